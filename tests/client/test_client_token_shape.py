"""A token is checked locally: kind prefix, length, base62 alphabet and CRC32 checksum."""

from __future__ import annotations

import pytest

from suanli.client import MalformedToken, check_token_shape
from suanli.domain.tokens import TokenKind, mint

GOOD = {kind: mint(kind, bytes(range(24))) for kind in TokenKind}
TENANT = GOOD[TokenKind.TENANT]


@pytest.mark.parametrize("kind", list(TokenKind))
def test_well_formed_tokens_report_their_kind(kind: TokenKind) -> None:
    assert check_token_shape(GOOD[kind]) == kind.value


def _flip(token: str, index: int) -> str:
    swapped = "B" if token[index] != "B" else "C"
    return token[:index] + swapped + token[index + 1 :]


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("slx_" + TENANT[4:], "starts with"),
        ("ghp_" + TENANT[4:], "starts with"),
        ("", "starts with"),
        (TENANT[:-1], "42 characters long; this one has 41"),
        (TENANT + "x", "has 43"),
        (TENANT[:-1] + "-", "only the characters"),
        (_flip(TENANT, 10), "checksum"),
        (_flip(TENANT, 41), "checksum"),
        ("slo_" + TENANT[4:], "checksum"),  # the kind letter is covered by the checksum too
    ],
)
def test_malformed_tokens_say_what_is_wrong(token: str, why: str) -> None:
    with pytest.raises(MalformedToken, match=why):
        check_token_shape(token)
