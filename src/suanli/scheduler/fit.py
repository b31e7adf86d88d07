"""Which accelerator option a pool satisfies, which nodes of a pool a gang takes (best fit), and what a
pool's nodes hold free once attempts give their room back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from suanli.domain.resources import AcceleratorOption, Vector
from suanli.scheduler.snapshot import PendingJob, PoolView, Running

__all__ = ["accelerator_option", "given_back", "options_key", "pick_nodes"]


def accelerator_option(job: PendingJob, pool: PoolView) -> AcceleratorOption | None:
    """The job's accelerator option that this pool's model satisfies (None: the job needs none)."""
    for option in job.resources.accelerators:
        if option.model == pool.accelerator:
            return option
    return None


def options_key(job: PendingJob) -> tuple[tuple[str, int], ...]:
    """The job's accelerator options as plain (model, count) pairs: quick to hash, for a `job_key`
    (worked out once per job: several plugins' keys start with it)."""
    return job.options_key


def pick_nodes(need: Vector, count: int, free: tuple[Vector, ...]) -> tuple[int, ...] | None:
    """Best fit: the `count` nodes that fit `need` with the fewest accelerators left over."""
    a, c, m = need.accelerators, need.cpus, need.memory_mib  # `need.fits_in(f)`, without a call per node
    fitting = [i for i, f in enumerate(free) if a <= f.accelerators and c <= f.cpus and m <= f.memory_mib]
    if len(fitting) < count:
        return None
    left = lambda i: (free[i].accelerators - a, free[i].cpus, i)  # noqa: E731
    if count == 1:  # most jobs: the best node, without sorting them all
        return (min(fitting, key=left),)
    fitting.sort(key=left)
    return tuple(sorted(fitting[:count]))


def given_back(free: Sequence[Vector], attempts: Iterable[Running]) -> list[Vector]:
    """`free` with what `attempts` hold given back, node by node (a node the pool no longer has is
    skipped)."""
    out = list(free)
    for r in attempts:
        for n in r.nodes:
            if n < len(out):
                out[n] = out[n] + r.per_node
    return out
