"""The jobs a cycle left waiting, each with its verdict per pool, worked out the first time it is read.

A cycle with 100,000 waiting jobs and 1,000 pools would otherwise build 100 million verdicts that
nobody reads: `GET /jobs/{id}` and `suanli why` ask for one job at a time. The mapping holds, per
waiting job, what its verdicts are a function of (the framework passes the job, its plugins and the
capacity it saw), and `expand` turns that into the verdicts. Reading the same job twice gives the
same tuple. Iteration, `len` and `in` never expand anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from suanli.scheduler.plan import PoolVerdict

Seen = TypeVar("Seen")


class Waiting(Mapping[str, tuple[PoolVerdict, ...]], Generic[Seen]):
    """job id → that job's verdict per pool, in snapshot pool order."""

    def __init__(self, seen: dict[str, Seen], expand: Callable[[Seen], tuple[PoolVerdict, ...]]) -> None:
        self._seen = seen
        self._expand = expand
        self._verdicts: dict[str, tuple[PoolVerdict, ...]] = {}

    def __getitem__(self, job_id: str) -> tuple[PoolVerdict, ...]:
        verdicts = self._verdicts.get(job_id)
        if verdicts is None:
            verdicts = self._verdicts[job_id] = self._expand(self._seen[job_id])
        return verdicts

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._seen

    def __iter__(self) -> Iterator[str]:
        return iter(self._seen)

    def __len__(self) -> int:
        return len(self._seen)

    def __repr__(self) -> str:
        return f"Waiting({len(self)} jobs)"
