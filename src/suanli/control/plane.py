"""The control plane: the database, the scheduling loop, wake-ups and the clock, behind one object."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from suanli.control import leases
from suanli.control.auth import authenticate
from suanli.control.cycle import SchedulingLoop
from suanli.control.idempotency import Answer, mutate
from suanli.control.principal import Principal
from suanli.control.settings import Settings
from suanli.control.signals import SCHEDULE, Signals, job_topic, site_topic
from suanli.control.snapshots import Tuning
from suanli.store import Database, Tx
from suanli.store.broadcast import Broadcast

log = logging.getLogger("suanli.control")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ControlPlane:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.signals = Signals()
        self.broadcast: Broadcast | None = None  # wake-ups to and from other servers (PostgreSQL)
        self.loop = SchedulingLoop(
            db,
            self.signals,
            clock,
            interval=settings.schedule_interval,
            lease_ttl=settings.lease_ttl,
            lease_grace=settings.lease_grace,
            keep_keys=timedelta(hours=settings.idempotency_ttl_hours),
            start_timeout=settings.start_timeout,
            tuning=Tuning(
                settings.fair_share_half_life_h,
                settings.preempt_after,
                settings.hold_without_max_runtime,
                settings.queue_order,
            ),
            leadership=db.leadership("scheduler"),
        )

    def start(self) -> None:
        with self.db.transaction() as tx:
            extended = leases.extend_all(tx, self.clock(), self.settings.lease_ttl)
        if extended:
            log.info("gave %d live attempts a fresh lease after start-up", extended)
        self.broadcast = self.db.broadcast(self.signals.notify_local)
        if self.broadcast is not None:  # several servers may share this database: share wake-ups
            self.broadcast.start()
            self.signals.relay = self.broadcast.publish
        self.loop.start()

    def stop(self) -> None:
        self.signals.close()
        self.loop.stop()
        if self.broadcast is not None:
            self.signals.relay = None
            self.broadcast.stop()

    def principal(self, token: str | None) -> Principal:
        with self.db.read() as tx:
            return authenticate(tx, token, self.clock())

    def mutate(
        self, who: Principal, key: str | None, fingerprint: str, change: Callable[[Tx], tuple[int, Any]]
    ) -> Answer:
        return mutate(self.db, who.key, key, fingerprint, self.clock(), change)

    def poke(self, *, schedule: bool = False, sites: Iterable[str] = (), jobs: Iterable[str] = ()) -> None:
        topics = [site_topic(s) for s in sites] + [job_topic(j) for j in jobs]
        if schedule:
            topics.append(SCHEDULE)
        if topics:
            self.signals.notify(*topics)
