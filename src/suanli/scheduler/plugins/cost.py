"""Score `cost`: the job's price on the pool; cheaper is better.

The value is the hourly price for what the job holds there (`estimate.hourly_price`: the pool's
whole price book on its accelerators, CPUs and memory; the headline price × units where only that
is known, as in the simulator). Its expected price is
that × its expected hours, the same factor on every pool, and a cost column is normalised across
the pools the job could run on (cheapest 100, dearest 0), which no common factor changes: so it ranks pools as the
expected price would, while jobs of every max_runtime share one job class (and one ranking). A pool
with no price is free (nothing is charged there), so it costs 0, not an unknown."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.estimate import hourly_price
from suanli.scheduler.framework import accelerator_option, options_key, register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Cost:
    name = "cost"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.memory_mib, r.nodes)

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of a job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        """All `hourly_price` reads of the job: what it holds there on each node, and its nodes."""
        r = job.resources
        return (r.per_node(accelerator_option(job, pool)), r.nodes)

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        money = hourly_price(job, pool)
        if money is None:  # unpriced: nothing is charged there (ADR 0034), so it is the cheapest
            return 0.0
        # Pools in different currencies are compared by their numbers; a network prices in one.
        return float(money.minor)


register_score(Cost.name, Cost)
