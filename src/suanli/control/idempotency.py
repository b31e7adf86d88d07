"""Idempotent mutations: the first answer to a key is stored in the same transaction as the change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanli.control.errors import Invalid
from suanli.store import Conflict as StoreConflict
from suanli.store import Database, Tx

MAX_KEY = 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False


TRIES = 3  # a change that loses a race for the same record runs again, up to this many times in all


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def mutate(
    db: Database,
    principal_key: str,
    key: str | None,
    fingerprint: str,
    now: datetime,
    change: Callable[[Tx], tuple[int, Any]],
) -> Answer:
    """Run `change` once per (principal, key); a retry with the same request gets the first answer."""
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise Invalid(f"Idempotency-Key must be 1–{MAX_KEY} characters", code="invalid_idempotency_key")
    for attempt in range(TRIES):
        try:
            with db.transaction() as tx:
                if key is not None:
                    seen = tx.idempotency.get(principal_key, key)
                    if seen is not None:
                        return _replay(seen.request_hash, fingerprint, seen.status, seen.response)
                status, body = change(tx)
                if key is not None:
                    tx.idempotency.put(principal_key, key, fingerprint, status, json.dumps(body), now)
                return Answer(status, body)
        except StoreConflict:
            # A concurrent request won an insert this one also made (the same Idempotency-Key, the
            # same transfer id, the same name): run it again, and it answers as that one's retry
            # does (the first answer, or "exists").
            if attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _replay(stored_hash: str, fingerprint: str, status: int, response: str) -> Answer:
    if stored_hash != fingerprint:
        raise Invalid(
            "this Idempotency-Key was already used with a different request; use a new key",
            code="idempotency_key_reused",
        )
    return Answer(status, json.loads(response), replayed=True)
