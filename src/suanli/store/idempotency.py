"""Idempotency records: the first answer to a (principal, key), kept so a retry gets the same answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from suanli.store.tables import IdempotencyRecord


class IdempotencyRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, principal: str, key: str) -> IdempotencyRecord | None:
        q = select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
        return self._s.scalar(q)

    def put(
        self, principal: str, key: str, request_hash: str, status: int, response: str, now: datetime
    ) -> None:
        self._s.add(
            IdempotencyRecord(
                principal=principal,
                key=key,
                request_hash=request_hash,
                status=status,
                response=response,
                created_at=now,
            )
        )
        self._s.flush()

    def purge_before(self, cutoff: datetime) -> int:
        result = self._s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
