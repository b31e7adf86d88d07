"""Run times of finished jobs, kept for the scheduler's predictions (`scheduler.predict`).

Queue orders that rank by expected work (`service`) need a run-time guess for each waiting job.
The guess learns only from jobs that have finished: `RunTimes` first reads the newest succeeded
jobs (of the last `HISTORY_DAYS`, at most `SEED_LIMIT`), then, each cycle, only the jobs that ended
since its mark. The scheduling loop owns one; nothing here reads a waiting job's future.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from suanli.domain.spec import JobSpec, parse_spec
from suanli.scheduler.predict import JobFacts, Predictor
from suanli.store import Tx
from suanli.store.jobs import JobHead
from suanli.store.tables import Job

__all__ = ["HISTORY_DAYS", "SEED_LIMIT", "RunTimes", "facts_of"]

HISTORY_DAYS = 30  # how far back the first read looks
SEED_LIMIT = 50_000  # the most jobs the first read takes (the newest are what a busy network needs)
BATCH = 5_000  # jobs read per query when catching up


def facts_of(job: Job | JobHead, spec: JobSpec | None = None) -> JobFacts:
    """What is known of a job before it runs: its org (the tenant), size, name and requested limit."""
    if spec is None:
        assert job.spec is not None
        spec = parse_spec(job.spec)
    resources = spec.resources
    per_node = resources.accelerators[0].count if resources.accelerators else 0
    return JobFacts(
        tenant=job.org_id,
        accelerators=per_node * resources.nodes,
        name=job.name,
        limit_s=float(resources.max_runtime_s) if resources.max_runtime_s else None,
    )


class RunTimes:
    """A `Predictor` fed from the store's finished jobs, caught up on each call of `update`."""

    def __init__(self) -> None:
        self.predictor = Predictor()
        self._mark: tuple[datetime, str] | None = None
        self._seeded = False
        self.seen = 0

    def update(self, tx: Tx, now: datetime) -> Predictor:
        """Learn from the jobs that finished since the last call (on the first, the recent history)."""
        if not self._seeded:
            self._seeded = True
            self._mark = (now - timedelta(days=HISTORY_DAYS), "")
            self._learn(tx.jobs.finished_since(self._mark, SEED_LIMIT, newest=True))
            return self.predictor
        while True:
            batch = tx.jobs.finished_since(self._mark, BATCH)
            self._learn(batch)
            if len(batch) < BATCH:
                return self.predictor

    def _learn(self, finished: list[tuple[Job, float]]) -> None:
        for job, ran_s in finished:
            self.predictor.observe(facts_of(job), ran_s)
            assert job.ended_at is not None
            self._mark = (job.ended_at, job.id)
        self.seen += len(finished)
