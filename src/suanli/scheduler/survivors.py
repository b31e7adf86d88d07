"""Static survivors: the pools that pass a job's static filters, as bitsets shared by every key.

A static filter (`reuse.Kinds.static`: reusable, does not read free capacity) gives one answer per
key and pool for the whole cycle, and one per group of alike pools when it has a `pool_key`. The
pools a job could ever run on are the conjunction of those answers, worked out filter by filter:
each narrows the set the ones before it left. A set of pools is a Python `int` with bit `i` set for
pool `i` of the snapshot, so

- a step (set, filter, key) is kept once, and sets with the same pools are one value, so keys that
  differ but leave the same pools (a max_runtime no pool limits, no constraints) share every step
  after;
- a filter is asked at most once per key and group of alike pools in a cycle, only about groups
  that some set it was given holds (its first pool there), and what it said is kept as two bitsets
  (the pools asked, the pools that passed), so a step whose pools were all asked before is two
  `&` of ints, whatever the number of pools.

Exact: a static filter's answer does not change within a cycle, nor between cycles while the pools'
`static_key` are unchanged (`carry.Carry`), and a `pool_key` promises the same answer on pools
with equal keys.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from itertools import compress

from suanli.scheduler.reuse import Check
from suanli.scheduler.snapshot import PendingJob, PoolView

__all__ = ["StaticSets", "indices", "need_groups"]

_BITS = bytes.maketrans(b"01", b"\x00\x01")


def indices(pools: int) -> list[int]:
    """The pool indices in a bitset, in snapshot order (lowest bit first)."""
    flags = bin(pools)[:1:-1].encode().translate(_BITS)  # bit i → byte i, 0 or 1
    return list(compress(range(len(flags)), flags))


def need_groups(
    pools: Sequence[PoolView], need_pool_key: Callable[[PoolView], Hashable]
) -> tuple[list[int], list[int]]:
    """The pools grouped by a plugin's `need_pool_key`: each group's bitset, and its first pool."""
    numbers: dict[Hashable, int] = {}
    members: list[int] = []
    firsts: list[int] = []
    for i, pool in enumerate(pools):
        g = numbers.setdefault(need_pool_key(pool), len(numbers))
        if g == len(members):
            members.append(0)
            firsts.append(i)
        members[g] |= 1 << i
    return members, firsts


class StaticSets:
    """Static survivors of one network of pools (module docstring), kept as long as its pools."""

    def __init__(self, pools: Sequence[PoolView]) -> None:
        self.pools = pools
        self.everyone = (1 << len(pools)) - 1
        self._steps: dict[tuple[int, str, Hashable], int] = {}  # (set, filter, key) → set
        # (filter, whether by need, its key or need) → [pools asked, pools that passed]
        self._answers: dict[Hashable, list[int]] = {}
        # filter → (pool index → its group, group → the bitset of its pools), by `Check.pool_key`
        self._groups: dict[str, tuple[list[int], list[int]]] = {}
        self._by_need: dict[str, tuple[list[int], list[int]]] = {}
        self._lists: dict[int, list[int]] = {}
        self._index: dict[str, dict[Hashable, int]] = {}  # filter → its index (`index_of`)

    def __len__(self) -> int:
        """How many (filter, key) answers are kept: what a carry limits."""
        return len(self._answers)

    def survivors(self, checks: Sequence[Check], keys: Sequence[Hashable], job: PendingJob) -> int:
        """The set of pools that pass every one of `checks` for its key (the job's `keys`)."""
        pools = self.everyone
        steps = self._steps
        for check, key in zip(checks, keys, strict=False):
            step = (pools, check.name, key)
            found = steps.get(step)
            if found is None:
                found = steps[step] = self._narrowed(pools, check, key, job)
            pools = found
        return pools

    def _narrowed(self, pools: int, check: Check, key: Hashable, job: PendingJob) -> int:
        """The pools of `pools` that pass `check` for `key`. A filter with a `need_key` is asked
        per what the job needs of each group of pools by `need_pool_key` (an A100:8 or H800:8 job
        and an A100:8 job need the same of every A100 pool), others per key."""
        if check.need_key is None or check.need_pool_key is None:
            named = check.candidates(key) if check.candidates is not None else None
            if named is None:
                return self._passing(pools, pools, check, (check.name, False, key), job)
            assert check.index_key is not None
            index = self.index_of(check.name, check.index_key)
            allowed = 0
            for value in named:
                allowed |= index.get(value, 0)
            # Pools outside the index keys the filter named pass for no job with this key.
            return self._passing(pools & allowed, pools & allowed, check, (check.name, False, key), job)
        out = 0
        assert check.need_pool_key is not None
        for members, first in zip(*self.need_groups_of(check.name, check.need_pool_key), strict=True):
            if members & pools:
                need = check.need_key(job, self.pools[first])
                out |= self._passing(pools & members, members, check, (check.name, True, need), job)
        return out

    def _passing(self, pools: int, within: int, check: Check, answer: Hashable, job: PendingJob) -> int:
        """The pools of `pools` that pass `check`, asking it about each group of alike pools among
        them not asked yet under `answer` (one pool stands for its group: the lowest-numbered one
        here); what it said holds for the group's pools in `within`."""
        answers = self._answers.get(answer)
        if answers is None:
            answers = self._answers[answer] = [0, 0]
        unasked = pools & ~answers[0]
        if unasked:
            group_of, members = self.groups(check)
            asked, passed = answers
            admits, views = check.admits, self.pools
            while unasked:
                i = (unasked & -unasked).bit_length() - 1
                group = members[group_of[i]] & within
                pool = views[i]
                if admits(job, pool, pool.free):
                    passed |= group
                asked |= group
                unasked &= ~group
            answers[0], answers[1] = asked, passed
        return pools & answers[1]

    def groups(self, check: Check) -> tuple[list[int], list[int]]:
        """Pool index → the number of its group, and group → the bitset of its pools: pools with
        equal `pool_key` for this filter share one (numbered in order of first pool); without a
        `pool_key`, each pool is its own group."""
        found = self._groups.get(check.name)
        if found is None:
            if check.pool_key is None:
                group_of = list(range(len(self.pools)))
            else:
                numbers: dict[Hashable, int] = {}
                group_of = [numbers.setdefault(check.pool_key(p), len(numbers)) for p in self.pools]
            members = [0] * (max(group_of, default=-1) + 1)
            for i, g in enumerate(group_of):
                members[g] |= 1 << i
            found = self._groups[check.name] = (group_of, members)
        return found

    def index_of(self, name: str, index_key: Callable[[PoolView], Hashable]) -> dict[Hashable, int]:
        """A filter's index (`reuse.py`): each `index_key` value → the bitset of its pools, kept
        as long as the pools (an index key reads only what their `static_key` holds)."""
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = {}
            for i, pool in enumerate(self.pools):
                value = index_key(pool)
                found[value] = found.get(value, 0) | 1 << i
        return found

    def need_groups_of(
        self, name: str, need_pool_key: Callable[[PoolView], Hashable]
    ) -> tuple[list[int], list[int]]:
        """`need_groups` for the plugin called `name` (a filter's, or a score's under its own name),
        kept as long as the pools: `need_pool_key` reads only what their `static_key` holds."""
        found = self._by_need.get(name)
        if found is None:
            found = self._by_need[name] = need_groups(self.pools, need_pool_key)
        return found

    def listed(self, pools: int) -> list[int]:
        """The pool indices of a set, in snapshot order: one list per set, shared (never change it)."""
        found = self._lists.get(pools)
        if found is None:
            found = self._lists[pools] = indices(pools)
        return found
