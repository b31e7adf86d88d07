"""The outward shape of a suanli token, checked locally before any round trip.

A token is `sl<kind>_<32 base62 chars><6 base62 checksum>` (docs/api.md). Prefix, length and alphabet
are checked here with messages that say what is wrong; the CRC32 checksum is verified by the one
implementation of the format, `suanli.domain.tokens`, so a mistyped character is caught too.
"""

from __future__ import annotations

import re

from suanli.client.http import ClientError
from suanli.domain.errors import InvalidToken
from suanli.domain.tokens import BODY_LEN, CHECK_LEN, parse_kind

__all__ = ["TOKEN_KINDS", "MalformedToken", "check_token_shape"]

TOKEN_KINDS = {
    "t": "tenant member",
    "o": "operator",
    "a": "site agent",
    "e": "site enrollment",
}
_LENGTH = 4 + BODY_LEN + CHECK_LEN


class MalformedToken(ClientError):
    """The text cannot be a suanli token: wrong prefix, length, characters or checksum."""


def check_token_shape(token: str) -> str:
    """Return the token's kind letter (`t`, `o`, `a`, `e`), or raise `MalformedToken` saying why not."""
    if not re.match(r"^sl[toae]_", token):
        raise MalformedToken(
            f"a suanli token starts with slt_, slo_, sla_ or sle_; this one starts with {token[:4]!r}"
        )
    if len(token) != _LENGTH:
        raise MalformedToken(
            f"a suanli token is {_LENGTH} characters long; this one has {len(token)} (truncated or padded?)"
        )
    if not re.fullmatch(r"[0-9A-Za-z]+", token[4:]):
        raise MalformedToken("a suanli token holds only the characters 0-9, A-Z and a-z after its prefix")
    try:
        return str(parse_kind(token).value)
    except InvalidToken:
        raise MalformedToken("the token's checksum does not match: a character was mistyped") from None
