"""API token format: a kind prefix, a random body and a CRC32 checksum (pure; randomness passed in).

`slt_` tenant member, `slo_` operator, `sla_` site agent, `sle_` single-use enrollment. The checksum lets
the CLI and secret scanners reject a mistyped or truncated token without asking the server; the
server stores only the SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import zlib
from enum import StrEnum

from suanli.domain.errors import InvalidToken

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LEN = 32
CHECK_LEN = 6


class TokenKind(StrEnum):
    TENANT = "t"
    OPERATOR = "o"
    AGENT = "a"
    ENROLLMENT = "e"


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def mint(kind: TokenKind, entropy: bytes) -> str:
    """Build a token of `kind` from at least 24 random bytes."""
    if len(entropy) < 24:
        raise ValueError("a token needs at least 24 bytes of entropy")
    body = _base62(int.from_bytes(entropy, "big"), BODY_LEN)
    return f"sl{kind.value}_{body}{_checksum(kind, body)}"


def _checksum(kind: TokenKind, body: str) -> str:
    # The kind letter is covered too: a mistyped `slt_` → `slo_` must fail like a mistyped body.
    return _base62(zlib.crc32(f"sl{kind.value}_{body}".encode()), CHECK_LEN)


def parse_kind(token: str) -> TokenKind:
    """Check a token's shape and checksum; return its kind or raise InvalidToken."""
    if len(token) != 4 + BODY_LEN + CHECK_LEN or not token.startswith("sl") or token[3] != "_":
        raise InvalidToken("token is malformed: expected sl<kind>_ followed by 38 characters")
    try:
        kind = TokenKind(token[2])
    except ValueError:
        raise InvalidToken(f"unknown token kind {token[2]!r}: allowed t, o, a, e") from None
    body, check = token[4 : 4 + BODY_LEN], token[4 + BODY_LEN :]
    if any(c not in _ALPHABET for c in body + check) or _checksum(kind, body) != check:
        raise InvalidToken("token checksum does not match: it was mistyped or truncated")
    return kind


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
