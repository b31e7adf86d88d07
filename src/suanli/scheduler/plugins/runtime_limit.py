"""Filter `runtime_limit`: the job's max_runtime is within the longest run the pool's engine allows.

A Slurm partition has a MaxTime; a job asking for longer would be refused by `sbatch` after it was
placed (or, without a limit of its own, killed at MaxTime). The agent offers the limit with the pool
(`PoolView.max_runtime_s`, None where the engine has none). A job without max_runtime passes: it
runs until the engine's limit stops it, as it would on the engine directly.
"""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector, format_duration
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class RuntimeLimit:
    name = "runtime_limit"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return job.resources.max_runtime_s

    def pool_key(self, pool: PoolView) -> Hashable:
        return pool.max_runtime_s

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        limit, wanted = pool.max_runtime_s, job.resources.max_runtime_s
        return limit is None or wanted is None or wanted <= limit

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        if self.admits(job, pool, free):
            return OK
        wanted, limit = job.resources.max_runtime_s or 0, pool.max_runtime_s or 0
        return Status(
            Code.UNRESOLVABLE,
            f"max_runtime {format_duration(wanted)} above the pool's limit {format_duration(limit)}",
        )


register_filter(RuntimeLimit.name, RuntimeLimit)
