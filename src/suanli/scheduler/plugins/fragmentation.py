"""Score `fragmentation`: put a job on nodes its size, so whole big nodes stay free for big jobs.

100 × what the job needs per node / what one node of the pool has, in accelerators (in CPUs for a
job without accelerators): a 1-GPU job scores 100 on a pool of 1-GPU nodes and 12.5 on one of 8-GPU
nodes; an 8-GPU job scores 100 on 8-GPU nodes. Within the pool the cycle chooses, `fit.pick_nodes`
does the rest: best fit, the nodes with the fewest accelerators left over, so partly used nodes fill
up before empty ones are broken into.

The score reads the pool's node shape, not its free capacity, so its values are cached per job
shape and kept between cycles (`carry.Carry`) and a class's ranking stays reusable; a score that
read free capacity would be asked again for every job and pool.
"""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.fit import accelerator_option, options_key
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Fragmentation:
    name = "fragmentation"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return (options_key(job), job.resources.cpus)

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of a job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        option = accelerator_option(job, pool)
        return (option.count if option else None, job.resources.cpus)

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        option = accelerator_option(job, pool)
        if option is not None and pool.per_node.accelerators:
            return 100.0 * min(option.count / pool.per_node.accelerators, 1.0)
        if pool.per_node.cpus:
            return 100.0 * min(job.resources.cpus / pool.per_node.cpus, 1.0)
        return 0.0


register_score(Fragmentation.name, Fragmentation)
