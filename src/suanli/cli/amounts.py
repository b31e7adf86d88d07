"""Amount arguments with a sign: `suanli topup acme research -5` reaches the server, which says why
it refuses the amount ("a top-up is positive"), where Click alone would answer "No such option: -5"."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

__all__ = ["SignedAmounts"]

_NEGATIVE = re.compile(r"^-\d")  # -5, -5.00, "-5 CNY": no option of ours starts with a digit


class SignedAmounts(TyperCommand):
    """A command whose arguments include an amount (`cls=SignedAmounts`): when a word such as `-5`
    is given, words Click does not know as options are read as arguments, so the negative amount
    takes its argument's place. A mistyped option then ends as an unexpected extra argument."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer's click Context
        if any(_NEGATIVE.match(a) for a in args):
            ctx.ignore_unknown_options = True
        result: list[str] = super().parse_args(ctx, args)
        return result
