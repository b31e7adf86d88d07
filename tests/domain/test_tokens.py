"""Tests for API tokens: minting, and the local shape/checksum check that catches mistyped tokens."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.errors import DomainError, InvalidToken
from suanli.domain.tokens import TokenKind, digest, mint, parse_kind

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ENTROPY = bytes(range(24))


def token(kind: TokenKind = TokenKind.TENANT, entropy: bytes = ENTROPY) -> str:
    return mint(kind, entropy)


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        (TokenKind.TENANT, "slt_"),
        (TokenKind.OPERATOR, "slo_"),
        (TokenKind.AGENT, "sla_"),
        (TokenKind.ENROLLMENT, "sle_"),
    ],
    ids=lambda v: getattr(v, "name", v),
)
def test_a_minted_token_shows_its_kind_and_parses_back_to_it(kind: TokenKind, prefix: str) -> None:
    minted = token(kind)
    assert minted.startswith(prefix)
    assert len(minted) == 42
    assert set(minted[4:]) <= set(ALPHABET)
    assert parse_kind(minted) is kind


def test_minting_is_a_pure_function_of_its_entropy() -> None:
    assert token() == token()
    assert token() != token(entropy=bytes(range(1, 25)))


def test_minting_refuses_too_little_entropy() -> None:
    with pytest.raises(ValueError, match="24 bytes"):
        mint(TokenKind.TENANT, bytes(23))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "malformed"),
        (token()[:-1], "malformed"),
        (token() + "0", "malformed"),
        ("gh" + token()[2:], "malformed"),
        (token()[:3] + "-" + token()[4:], "malformed"),
        ("slx" + token()[3:], "unknown token kind 'x': allowed t, o, a, e"),
        (token()[:10] + "-" + token()[11:], "checksum does not match"),
        (token()[:-6] + "000000", "checksum does not match"),
        (token(TokenKind.TENANT)[:2] + "o" + token(TokenKind.TENANT)[3:], "checksum does not match"),
    ],
    ids=[
        "empty",
        "truncated",
        "too-long",
        "foreign-prefix",
        "no-underscore",
        "unknown-kind",
        "character-outside-alphabet",
        "wrong-checksum",
        "kind-letter-changed",
    ],
)
def test_a_bad_token_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidToken, match=says) as caught:
        parse_kind(text)
    assert isinstance(caught.value, DomainError)


@given(
    kind=st.sampled_from(TokenKind),
    entropy=st.binary(min_size=24, max_size=48),
    position=st.integers(0, 41),
    replacement=st.characters(codec="ascii"),
)
def test_any_single_character_change_is_caught(
    kind: TokenKind, entropy: bytes, position: int, replacement: str
) -> None:
    minted = mint(kind, entropy)
    assert parse_kind(minted) is kind
    changed = minted[:position] + replacement + minted[position + 1 :]
    if changed != minted:
        with pytest.raises(InvalidToken):
            parse_kind(changed)


def test_the_stored_digest_is_the_sha256_of_the_whole_token() -> None:
    assert digest(token()) == hashlib.sha256(token().encode()).hexdigest()
    assert digest(token(TokenKind.TENANT)) != digest(token(TokenKind.OPERATOR))
