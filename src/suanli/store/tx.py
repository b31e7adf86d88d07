"""A unit of work: one open transaction and the repositories that read and write through it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from suanli.store.billing import BillingRepo
from suanli.store.idempotency import IdempotencyRepo
from suanli.store.jobs import JobRepo
from suanli.store.ledger import LedgerRepo
from suanli.store.sequences import SequenceRepo
from suanli.store.sites import SiteRepo
from suanli.store.tenancy import TenancyRepo


class Tx:
    """Handed out by `Database.transaction()`; valid only inside that `with` block."""

    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self._session = session
        self.tenancy = TenancyRepo(session)
        self.sites = SiteRepo(session, sqlite=sqlite)
        self.jobs = JobRepo(session)
        self.idempotency = IdempotencyRepo(session)
        self.ledger = LedgerRepo(session, sqlite=sqlite)
        self.billing = BillingRepo(session, sqlite=sqlite)
        self.sequences = SequenceRepo(session)

    def flush(self) -> None:
        self._session.flush()
