"""Amount arguments with a sign: `suanli topup acme research -5` reaches the server, which says why
it refuses the amount ("a top-up is positive"), where Click alone would answer "No such option: -5"
or, for `"-5 hkd"`, read the word as the short options `-5 -h -k -d` and print the help."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

__all__ = ["SignedAmounts"]

_NEGATIVE = re.compile(r"^-\d")  # -5, -5.00, "-5 CNY": no option of ours starts with a digit
_SHIELD = "\x00"  # no word typed in a shell holds it, so it marks the words shielded here alone


class SignedAmounts(TyperCommand):
    """A command whose arguments include an amount (`cls=SignedAmounts`): a word such as `-5` or
    `"-5 hkd"` is shielded from Click's option parser while it parses, so the word takes its
    argument's place whole. A mistyped option is still refused as one ("No such option")."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer's click Context
        # an option's own value (`--threshold -5`) is left to the option, whose type says what is wrong
        takes_value = {
            opt
            for p in self.params
            if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False)
            for opt in p.opts
        }
        shielded = [
            _SHIELD + a if _NEGATIVE.match(a) and (i == 0 or args[i - 1] not in takes_value) else a
            for i, a in enumerate(args)
        ]
        rest: list[str] = super().parse_args(ctx, shielded)
        for name, value in ctx.params.items():
            if isinstance(value, str) and value.startswith(_SHIELD):
                ctx.params[name] = value[len(_SHIELD) :]
        ctx.args = [_unshield(a) for a in ctx.args]
        return [_unshield(a) for a in rest]


def _unshield(word: str) -> str:
    return word[len(_SHIELD) :] if word.startswith(_SHIELD) else word
