"""The order a cycle examines pending jobs in: priority class, then fair share, then age.

The queue order is a plugin chosen by `Snapshot.order` (`QUEUE_ORDERS`, `register_queue_order`):
`fair` is the order below; `service` (`service.py`) puts, within each priority class, aged jobs
after new jobs and before jobs that have had more service, and inside each band the smallest
expected work first; `las` is `service` where only jobs below the first rung age (ADR 0019), sooner
the wider they are, and a wide one keeps its place among the new jobs once aged (ADR 0022). Fair share applies
within each of those ranks.

1. **Priority** (higher first): a job of a higher class is always examined before any job of a
   lower one.
2. **Fair share**, within one priority: the org with the lowest dominant share (`books.Books.share`)
   goes next, and within that org the project with the lowest share. Shares are read afresh each
   time an org comes up, so every placement of the cycle counts: an org that has just been given
   capacity falls behind one that has not (progressive filling, as in DRF).
3. **Age**: within a project, oldest first (then job id). Equal shares are broken by the age of
   each org's (project's) oldest job, then by id.

`FairQueue` yields one job at a time; the caller reports placements to the `Books` it was built with
before asking for the next job. Cost: O(log orgs + log projects) per job, plus O(projects of the
org) to find the org's oldest job again.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from suanli.scheduler import service
from suanli.scheduler.books import Books
from suanli.scheduler.snapshot import PendingJob

__all__ = [
    "QUEUE_NOTES",
    "QUEUE_ORDERS",
    "SERVICE_ORDERS",
    "FairQueue",
    "QueueNote",
    "QueueOrder",
    "register_queue_order",
]

QueueOrder = Callable[[PendingJob, datetime], tuple[int, tuple[Any, ...]]]
"""A queue order: for a job at `now`, its rank (lower ranks go first, within one priority class;
fair share applies within a rank) and its key within its project (lower first)."""


def _fair(job: PendingJob, now: datetime) -> tuple[int, tuple[Any, ...]]:
    return 0, (job.created_at, job.id)


def _service(job: PendingJob, now: datetime) -> tuple[int, tuple[Any, ...]]:
    rank = service.pending_rank(job, now)
    if rank == service.AGED:
        return rank, (job.created_at, job.id)
    work = job.expected_s * max(service.accelerators(job), 1) if job.expected_s is not None else math.inf
    return rank, (work, job.created_at, job.id)


def _las(job: PendingJob, now: datetime) -> tuple[int, tuple[Any, ...]]:
    """`service` where only jobs below the first rung age (ADR 0019), and an aged wide job keeps its
    place among them (ADR 0022): by fair share, then the smallest expected work."""
    work = job.expected_s * max(service.accelerators(job), 1) if job.expected_s is not None else math.inf
    return service.queue_rank(job, now, every_band=False), (work, job.created_at, job.id)


QUEUE_ORDERS: dict[str, QueueOrder] = {"fair": _fair, "service": _service, "las": _las}
SERVICE_ORDERS = frozenset({"service", "las"})
"""The orders that rank by attained service, so `reserve.preempt` evicts by it."""

QueueNote = Callable[[PendingJob, Sequence[PendingJob], datetime], str]
"""Why a waiting job is where it is in its order, in people's words (what `suanli why` shows)."""


def _las_note(job: PendingJob, queue: Sequence[PendingJob], now: datetime) -> str:
    return service.explain_wait(job, queue, now, every_band=False)


QUEUE_NOTES: dict[str, QueueNote] = {"service": service.explain_wait, "las": _las_note}


def register_queue_order(name: str, order: QueueOrder, note: QueueNote | None = None) -> None:
    QUEUE_ORDERS[name] = order
    if note is not None:
        QUEUE_NOTES[name] = note


class FairQueue:
    """Pending jobs in scheduling order; see the module docstring."""

    def __init__(
        self, jobs: Iterable[PendingJob], books: Books, now: datetime | None = None, order: str = "fair"
    ) -> None:
        self._books = books
        rank_of = QUEUE_ORDERS[order]
        levels: defaultdict[tuple[int, int], defaultdict[str, defaultdict[str, list[Any]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        for job in jobs:
            rank, key = rank_of(job, now or job.created_at)
            levels[-job.priority, rank][job.org_id][job.project_id].append((key, job))
        self._levels = [
            {
                org: {p: deque(j for _, j in sorted(js, key=lambda kj: kj[0])) for p, js in projects.items()}
                for org, projects in orgs.items()
            }
            for _, orgs in sorted(levels.items(), key=lambda kv: kv[0])
        ]

    def __iter__(self) -> Iterator[PendingJob]:
        for orgs in self._levels:
            yield from self._level(orgs)

    def _level(self, orgs: dict[str, dict[str, deque[PendingJob]]]) -> Iterator[PendingJob]:
        share = self._books.share
        if len(orgs) == 1 and all(len(ps) == 1 for ps in orgs.values()):  # one project: plain age order
            (projects,) = orgs.values()
            (queue,) = projects.values()
            yield from queue
            return
        project_heaps: dict[str, list[tuple[float, datetime, str, str]]] = {}
        org_heap: list[tuple[float, datetime, str]] = []
        for org, projects in orgs.items():
            heap = [(share(p), q[0].created_at, q[0].id, p) for p, q in projects.items()]
            heapq.heapify(heap)
            project_heaps[org] = heap
            org_heap.append((share(org), min(q[0].created_at for q in projects.values()), org))
        heapq.heapify(org_heap)
        while org_heap:
            _, _, org = heapq.heappop(org_heap)
            heap, projects = project_heaps[org], orgs[org]
            _, _, _, project = heapq.heappop(heap)
            queue = projects[project]
            yield queue.popleft()  # the caller books a placement before resuming us
            if queue:
                heapq.heappush(heap, (share(project), queue[0].created_at, queue[0].id, project))
            if heap:
                oldest = min(projects[p][0].created_at for _, _, _, p in heap)
                heapq.heappush(org_heap, (share(org), oldest, org))
