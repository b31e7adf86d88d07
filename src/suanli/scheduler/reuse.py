"""Which plugin answers a cycle may reuse: the `Reusable` protocol, and a profile's plugins sorted by it.

A plugin is *reusable* when it has `job_key(job)` and `reads_free`: its answer for a pool depends on
the job only through `job_key(job)`, and on the `free` vectors only when `reads_free` is True. A
reusable filter that reads `free` must be monotone: with less free capacity it never turns a no into
a yes. A filter may also have `admits(job, pool, free) -> bool`, the same answer as
`filter(...).ok` without building a reason; the cycle asks it where nobody reads the reason. A
reusable filter that does not read `free` may also have `pool_key(pool)`: its answer depends on the
pool only through that key, so pools with equal keys are asked once for them all (`pool_key` is to
pools what `job_key` is to jobs; `accelerator` reads only the pool's model, `shape` its node shape).
A reusable filter may also have `need_key(job, pool)` and `need_pool_key(pool)`: its answer on a
pool depends on the job only through `need_key(job, pool)`, which depends on the pool only through
`need_pool_key(pool)` (`capacity`, `shape`, `price_cap`: what the job needs of the one accelerator
option that applies on the pool's model). Jobs whose keys differ but need the same of a pool then
share the answers: a static filter's per group of pools with that `need_pool_key`
(`survivors.py`), one that reads `free` where the job needs the same of every pool it could run on
(`classes.py`). A reusable score that does not read `free` may have them too: its raw value on a
pool is then asked once per what jobs need of it, whatever their keys (`classes.JobClass._fill`).
A reusable filter with a `pool_key` may also have an *index*: `index_key(pool)` and
`candidates(key)`, which for a job key names the `index_key`s outside which it admits no pool (None:
any pool may pass). Its static survivors are then asked only about the pools with those index keys
(`constraints`: a job limited to three sites of two hundred asks about those sites' pools alone).
A plugin without these attributes is still correct, only asked again for every job and pool.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from suanli.domain.resources import Vector
from suanli.scheduler.snapshot import PendingJob, PoolView

if TYPE_CHECKING:
    from suanli.scheduler.framework import CostPlugin, FilterPlugin, ScorePlugin, _Built

Admits = Callable[[PendingJob, PoolView, tuple[Vector, ...]], bool]
JobKey = Callable[[PendingJob], Hashable]
PoolKey = Callable[[PoolView], Hashable]


@runtime_checkable
class Reusable(Protocol):
    """A plugin whose answers may be reused for every job with the same `job_key` (module docstring)."""

    reads_free: bool

    def job_key(self, job: PendingJob) -> Hashable: ...


@dataclass(frozen=True)
class Check:
    """One filter as the cycle asks it: yes or no (its `admits`, or `filter(...).ok`)."""

    name: str
    admits: Admits
    key: JobKey | None  # its `job_key` when it is reusable
    pool_key: PoolKey | None = None  # its `pool_key` when it is reusable and does not read free
    need_key: Callable[[PendingJob, PoolView], Hashable] | None = None  # its `need_key` when reusable
    need_pool_key: PoolKey | None = None
    index_key: PoolKey | None = None  # its index (module docstring), with `pool_key`
    candidates: Callable[[Hashable], Collection[Hashable] | None] | None = None

    @classmethod
    def of(cls, plugin: FilterPlugin) -> Check:
        admits = getattr(plugin, "admits", None) or partial(_admits, plugin)
        if not isinstance(plugin, Reusable):
            return cls(plugin.name, admits, None)
        need_key, need_pool_key = getattr(plugin, "need_key", None), getattr(plugin, "need_pool_key", None)
        if need_key is None or need_pool_key is None:
            need_key = need_pool_key = None
        pool_key = None if plugin.reads_free else getattr(plugin, "pool_key", None)
        index_key, candidates = getattr(plugin, "index_key", None), getattr(plugin, "candidates", None)
        if pool_key is None or index_key is None or candidates is None:
            index_key = candidates = None
        return cls(
            plugin.name, admits, plugin.job_key, pool_key, need_key, need_pool_key, index_key, candidates
        )


def _admits(plugin: FilterPlugin, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
    return plugin.filter(job, pool, free).ok


@dataclass(frozen=True)
class Score:
    """One weighted score of a profile, as the cycle asks it."""

    name: str
    ask: Callable[[PendingJob, PoolView, tuple[Vector, ...]], float | None]  # `cost` or `score`
    weight: float
    is_cost: bool
    key: JobKey | None  # its `job_key` when its raw values may be cached (reusable, does not read free)
    need_key: Callable[[PendingJob, PoolView], Hashable] | None = None  # when it has `key` and both
    need_pool_key: PoolKey | None = None

    @classmethod
    def of(cls, plugin: ScorePlugin | CostPlugin, weight: float) -> Score:
        ask = plugin.cost if hasattr(plugin, "cost") else plugin.score
        if not isinstance(plugin, Reusable) or plugin.reads_free:
            return cls(plugin.name, ask, weight, hasattr(plugin, "cost"), None)
        need_key, need_pool_key = getattr(plugin, "need_key", None), getattr(plugin, "need_pool_key", None)
        if need_key is None or need_pool_key is None:
            need_key = need_pool_key = None
        return cls(plugin.name, ask, weight, hasattr(plugin, "cost"), plugin.job_key, need_key, need_pool_key)


@dataclass(frozen=True)
class Kinds:
    """A built profile's plugins sorted by how far their answers may be reused."""

    static: tuple[Check, ...]  # reusable, do not read free: once per key and pool
    shrinking: tuple[Check, ...]  # reusable, read free: a yes per pool version, a no for the cycle
    opaque: tuple[Check, ...]  # asked for every job and pool
    scores: tuple[Score, ...]  # in profile order

    @classmethod
    def of(cls, built: _Built) -> Kinds:
        checks = [(Check.of(f), f) for f in built.filters]
        return cls(
            tuple(c for c, f in checks if isinstance(f, Reusable) and not f.reads_free),
            tuple(c for c, f in checks if isinstance(f, Reusable) and f.reads_free),
            tuple(c for c, f in checks if not isinstance(f, Reusable)),
            tuple(Score.of(p, w) for p, w in built.scores),
        )

    @cached_property
    def static_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.static)

    @cached_property
    def keys(self) -> tuple[JobKey, ...]:
        """The functions whose values make up a job's class: the static filters', the shrinking
        filters', then the cached scores' `job_key`, in that order."""
        checks = [c.key for c in (*self.static, *self.shrinking)]
        return tuple(k for k in (*checks, *(s.key for s in self.scores)) if k is not None)

    @cached_property
    def ranking_reusable(self) -> bool:
        """Whether a class's feasible pools only ever shrink and its scores are fixed, so a ranking can
        be kept (`ranking.Ranked`): no filter or score is asked afresh for each job."""
        return not self.opaque and all(s.key is not None for s in self.scores)
