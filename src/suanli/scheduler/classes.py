"""Job classes: jobs that every reusable plugin sees alike share one cycle's cached answers.

Jobs of one profile whose reusable plugins (`reuse.py`) all give the same keys form a *class*; so
do jobs whose keys differ only where it changes neither their live pools nor their score memos (a
max_runtime no pool limits), since those rank the same pools the same way. Per cycle this module
keeps:

- **Static survivors** (`survivors.StaticSets`): the pools that pass `accelerator`, `shape`,
  `constraints`, `price_cap`, `runtime_limit`, `online`, as bitsets, each filter asked at most
  once per key (or need) and group of alike pools, each step kept per (set, filter, key), so
  classes whose keys differ but leave the same pools share every step after.
- **Live pools** (`live.LivePools`), shared by every class whose static filters leave the same pools and
  whose filters reading free capacity give the same keys: the pools that passed the static filters
  and that no filter reading free capacity (`capacity`) has refused yet, with the version of the
  pool's free vectors (`WorkingFree.taken`) at which it last said yes. A yes is reused while those
  vectors are unchanged (a reservation leaves them), which is exact. A no retires the pool for
  these keys until the cycle ends: safe because free capacity only shrinks within a cycle and such
  a filter is monotone. So a full pool costs each set of keys one look, and a class with no live
  pool left waits at once. The answers are kept per what the job needs of those pools
  (`Check.need_key`: for `capacity` the one accelerator option that applies on the pool's model),
  so a job that takes A100:8 or H800:8 and one that takes only A100:8 share the A100 pools' answers.
- **Raw score values**, per (score plugin, key) and pool, shared between classes; a score with a
  `need_key` (`cost`, `carbon`, `fragmentation`) is asked once per pool and what jobs need there.
- **A ranking per class** (`ranking.Ranked`), made when a pool first takes a job of the class and
  kept for the cycle: a pool's score reads no free capacity and its cost columns are normalised
  over the class's domain, its static survivors (ADR 0027), so it never changes within a cycle.
  Most jobs of a class then cost a version check on the pool the last one took.
- **Scores shared between classes**: a pool's total is a function of its raw values and of each
  cost column's cheapest and dearest cost over the domain, so classes reading the same memos whose
  domains have the same extremes look their totals up (`JobClasses.totals`), and so do weighted
  columns per memo and extremes (`JobClasses.column`). This is what makes a new class's ranking
  cheap.

Plugins that are not reusable are asked again for every job and pool, and a class that has any
does not keep a ranking. Feasibility is the conjunction of the filters, so the order in which they
run here does not change which pools pass; the verdict a user reads (the first filter that fails, in
profile order) is worked out separately, when asked (`framework._verdicts`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache
from itertools import filterfalse
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

from suanli.scheduler import ranking
from suanli.scheduler.carry import NO_COST, Carry, Values
from suanli.scheduler.live import UNSEEN, LivePools
from suanli.scheduler.reuse import Check, Kinds, Score
from suanli.scheduler.snapshot import PendingJob, PoolView
from suanli.scheduler.working import WorkingFree

if TYPE_CHECKING:
    from suanli.scheduler.framework import _Built

T = TypeVar("T")

_kinds_of = cache(Kinds.of)  # built profiles live as long as `framework.build`'s cache: kept between cycles


class JobClasses:
    """Every job class met in one cycle, and the memos they share."""

    def __init__(self, pools: Sequence[PoolView], working: WorkingFree, carry: Carry | None = None) -> None:
        self.pools = pools
        self.labels = [p.label for p in pools]
        self.working = working
        kept = self.carry = (carry or Carry()).adopt(pools)
        self._job_keys = kept.job_keys
        self._kinds: dict[int, Kinds] = {}
        # profile → class keys → the class, and the pools a job of it could ever run on
        self._classes: dict[int, dict[int, tuple[JobClass, tuple[int, ...]]]] = {}  # by keys' number
        self._alike: dict[Hashable, JobClass] = {}
        self._score_values: dict[Hashable, tuple[Values | None, ...]] = {}  # profile, score keys → memos
        self._static = kept.static
        self._live: dict[Hashable, LivePools] = {}
        self._possible: dict[Hashable, tuple[int, ...]] = {}
        self._survivors: dict[Hashable, int] = {}  # (static filters, their keys) → survivors
        self._answers: dict[Hashable, list[int]] = {}  # shrinking filters' keys → answer per pool
        self._values = kept.values
        self.rankings = kept.rankings
        self._raw: dict[tuple[str, Hashable], dict[int, float | None]] = {}
        self._totals: dict[Hashable, dict[int, float]] = {}
        self._columns: dict[Hashable, dict[int, float]] = {}
        self._label_orders: dict[int, list[int]] = {}  # a domain's bitset → `label_order`

    def of(self, job: PendingJob, built: _Built) -> tuple[JobClass, tuple[int, ...]]:
        """The job's class, and the pools a job of it could ever run on (`live`)."""
        kinds = self._kinds.get(id(built))
        if kinds is None:
            kinds = self._kinds[id(built)] = _kinds_of(built)
            self._classes[id(built)] = {}
            self._job_keys.setdefault(id(built), {})
        keyed = self._job_keys[id(built)]
        known = keyed.get(job.id)
        if known is not None and known[0] is job:
            _, keys, number = known
        else:
            keys = tuple([key(job) for key in kinds.keys])
            numbers = self.carry.key_numbers
            number = numbers.setdefault(keys, len(numbers))
            keyed[job.id] = (job, keys, number)
            self.carry.jobs_keyed += 1
        classes = self._classes[id(built)]
        found = classes.get(number)
        if found is None:
            found = classes[number] = self._class(kinds, job, keys)
        return found

    def _class(
        self, kinds: Kinds, job: PendingJob, keys: tuple[Hashable, ...]
    ) -> tuple[JobClass, tuple[int, ...]]:
        """One class per profile, live pools and score memos: jobs whose keys differ only where it
        changes none of these (a max_runtime no pool limits) rank the same pools the same way, so
        they share one class and its ranking, walked with a cursor per max_runtime under reservations."""
        live, possible = self.live(kinds, keys, job)
        score_keys = keys[len(kinds.static) + len(kinds.shrinking) :]
        values = self._score_values.get((id(kinds), score_keys))
        if values is None:
            each = iter(score_keys)
            values = self._score_values[id(kinds), score_keys] = tuple(
                [self.values(s.name, next(each)) if s.key else None for s in kinds.scores]
            )
        found = self._alike.get((id(kinds), live, values))
        if found is None:
            found = self._alike[id(kinds), live, values] = JobClass(self, kinds, live, values)
        return found, possible

    def close(self) -> None:
        """Drop the classes and live sets: they point back at this book, and without this the whole
        cycle's working state would wait for the cyclic garbage collector instead of going at once."""
        self._classes.clear()
        self._alike.clear()
        self._score_values.clear()
        self._live.clear()
        self._possible.clear()
        self._survivors.clear()

    def live(
        self, kinds: Kinds, keys: tuple[Hashable, ...], job: PendingJob
    ) -> tuple[LivePools, tuple[int, ...]]:
        """The live pools shared by every class whose static filters leave the same pools and whose
        filters reading free capacity give the same keys, whatever its profile; and the pools a
        job of the class could ever run on (its static survivors).

        The latter is one tuple per set of filter keys, not per set of pools: the reserver keeps
        its start estimates per job shape and tuple (`Reserver.blocked`) within a budget per cycle
        (`reserve.ESTIMATE_BUDGET`), so which estimates are made, and so the reservations once the
        budget runs out, follow that identity."""
        static, shrinking = (
            keys[: len(kinds.static)],
            keys[len(kinds.static) : len(kinds.static) + len(kinds.shrinking)],
        )
        shrinking_named = tuple((c.name, k) for c, k in zip(kinds.shrinking, shrinking, strict=True))
        named_static = (kinds.static_names, static)
        survivors = self._survivors.get(named_static)
        if survivors is None:
            survivors = self._survivors[named_static] = self._static.survivors(kinds.static, static, job)
        found = self._live.get((survivors, shrinking_named))
        if found is None:
            needs = self._needs(kinds.shrinking, shrinking, survivors, job)
            answers = self._answers.get(needs)
            if answers is None:
                answers = self._answers[needs] = [UNSEEN] * len(self.pools)
            pools = list(self._static.listed(survivors))
            found = self._live[survivors, shrinking_named] = LivePools(
                self.pools, self.working, survivors, pools, kinds.shrinking, answers
            )
        named = (kinds.static_names, static, shrinking_named)
        possible = self._possible.get(named)
        if possible is None:
            possible = self._possible[named] = tuple(self._static.listed(survivors))
        return found, possible

    def _needs(
        self, checks: Sequence[Check], keys: Sequence[Hashable], survivors: int, job: PendingJob
    ) -> Hashable:
        """What the answers of the filters reading free capacity are kept under for a job whose
        static survivors are `survivors` (a bitset, `survivors.py`): per filter, what the job needs
        of those pools when it is the same on all of them (`Check.need_key`), else the filter's
        key for the job. A pool's answer depends on the job only through what it needs of that
        pool, so jobs with different keys that need the same share the answers (`LivePools.answers`)
        of every pool they both see."""
        named = []
        for check, key in zip(checks, keys, strict=True):
            if check.need_key is None or check.need_pool_key is None or not survivors:
                named.append((check.name, "job", key))
                continue
            members, firsts = self._static.need_groups_of(check.name, check.need_pool_key)
            present = [g for g, pools in enumerate(members) if pools & survivors]
            needs = {check.need_key(job, self.pools[firsts[g]]) for g in present}
            if len(needs) == 1:
                named.append((check.name, "need", needs.pop()))
            else:
                named.append((check.name, "job", key))
        return tuple(named)

    def totals(self, scores: Hashable, extremes: tuple[tuple[float, float] | None, ...]) -> dict[int, float]:
        """Pool index → its score, for classes that read the same score memos (`scores`) and whose
        domains have these cost extremes (`JobClass._rank`)."""
        found = self._totals.get((scores, extremes))
        if found is None:
            found = self._totals[scores, extremes] = {}
        return found

    def column(self, memo: Values, weight: float, extremes: tuple[float, float] | None) -> dict[int, float]:
        """Pool index → one score's weighted value, for its raw values `memo` and (for a cost
        column) the domain's cheapest and dearest known cost."""
        found = self._columns.get((memo, weight, extremes))
        if found is None:
            found = self._columns[memo, weight, extremes] = {}
        return found

    def label_order(self, survivors: int, domain: list[int]) -> list[int]:
        """`ranking.label_order` of a domain (the pools of `survivors`), kept for the cycle: every
        ranking over it sorts by label first. Never change the list."""
        found = self._label_orders.get(survivors)
        if found is None:
            found = self._label_orders[survivors] = ranking.label_order(domain, self.labels)
        return found

    def listed(self, pools: int) -> list[int]:
        """The pool indices of a bitset, kept (`StaticSets.listed`): never change the list."""
        return self._static.listed(pools)

    def score_groups(self, name: str, need_pool_key: Callable[[PoolView], Hashable]) -> list[int]:
        """A score's groups of pools by its `need_pool_key`, as bitsets (kept with the static sets,
        under a name no filter has)."""
        return self._static.need_groups_of(f"score:{name}", need_pool_key)[0]

    def raw(self, name: str, need: Hashable) -> dict[int, float | None]:
        """Pool index → one score's raw value for jobs that need `need` of the pool (`_fill`)."""
        found = self._raw.get((name, need))
        if found is None:
            found = self._raw[name, need] = {}
        return found

    def values(self, name: str, key: Hashable) -> Values:
        """The shared memo of one reusable score's raw values for one key."""
        found = self._values.get((name, key))
        if found is None:
            found = self._values[name, key] = Values()
        return found


class JobClass:
    """One class: its live pools (shared), its scores' raw values (shared), and its ranking."""

    def __init__(
        self, book: JobClasses, kinds: Kinds, live: LivePools, values: tuple[Values | None, ...]
    ) -> None:
        self._book, self._kinds = book, kinds
        self._live, self._values = live, values
        self._ranked: ranking.Ranked | None = None
        self._filled = False  # the cached raw values cover every live pool
        # What a pool's total reads besides the cost columns' extremes: the profile's scores (its
        # `Kinds`, kept as long as the profile) and their memos; None when a score is asked afresh.
        self._totals_key = None if None in values else (id(kinds), values)

    def best(self, job: PendingJob) -> tuple[int, float] | None:
        """The pool the job goes to now, with its score; None if no pool takes it."""
        live = self._live
        if not live.pools:  # every pool it could run on is retired for the cycle
            return None
        working = self._book.working
        answers, version = live.answers, working.taken

        def admits(i: int) -> bool:  # `live.admits`, its commonest answer first
            return answers[i] == version[i] or live.admits(job, i)

        if self._totals_key is None:  # a score asked afresh for every job: nothing to keep
            return self._best_afresh(job)
        ranked = self._ranked
        if ranked is None:
            if not live.any_admits(job):  # ranked when some pool takes a job of the class, if one ever does
                return None
            ranked = self._ranked = ranking.Ranked(self._ranking(job))
        opaque = self._kinds.opaque
        if working.reserved > 0:
            if opaque:  # an opaque filter's no may turn into a yes: asked afresh, never remembered
                return ranked.pick(admits, lambda i: self._may_use(job, i) and self._opaque_admit(job, i))
            # A reservation this job may not backfill into refuses every job of the class with its
            # max_runtime for the rest of the cycle (`Ranked`), so they share one cursor.
            return ranked.pick(admits, lambda i: self._may_use(job, i), (job.resources.max_runtime_s,))
        if opaque:
            return ranked.pick(admits, lambda i: self._opaque_admit(job, i))
        return ranked.pick(admits)

    def _usable(self, job: PendingJob, feasible: list[int]) -> list[int]:
        """The feasible pools the job may use beside their reservations (`_may_use` for each, with
        what it reads of the job worked out once)."""
        working = self._book.working
        guards, ends, admits_guarded = working.guards, working.ends_of(job), self._live.admits_guarded
        if ends is None:  # it cannot show it ends before any reservation starts
            return [i for i in feasible if guards[i] is None or admits_guarded(job, i)]
        return [
            i
            for i in feasible
            if (guard := guards[i]) is None
            or (guard.until is not None and ends <= guard.until)
            or admits_guarded(job, i)
        ]

    def _may_use(self, job: PendingJob, i: int) -> bool:
        """Whether a reservation on pool `i` leaves this job room: it ends before the reservation
        starts, or what it needs fits beside the guarded capacity. No reservation: yes."""
        working = self._book.working
        guard = working.guards[i]
        if guard is None:
            return True
        ends = working.ends_of(job)
        if ends is not None and guard.until is not None and ends <= guard.until:
            return True  # `free_for` gives it all the free capacity
        return self._live.admits_guarded(job, i)

    def _opaque_admit(self, job: PendingJob, i: int) -> bool:
        pool, free = self._book.pools[i], self._book.working.free_for(i, job)
        return all(c.admits(job, pool, free) for c in self._kinds.opaque)

    def _ranking(self, job: PendingJob) -> ranking.Ranking:
        """The class's domain (its static survivors) ranked by score: one `Ranking` per domain and
        set of score memos, kept in the carry (its key names both, and memos live as long as it).

        A pool's score is a function of its raw values and of each cost column's cheapest and
        dearest known cost over the domain, nothing else. So classes whose scores read the same
        memos (`Values`) and whose domains have the same extremes share one total per pool
        (`JobClasses.totals`), and one weighted column per memo, weight and extremes
        (`JobClasses.column`): most rankings of a large cycle only look their pools up."""
        key = (self._totals_key, self._live.survivors)
        kept = self._book.rankings.get(key)
        if kept is None:
            kept = self._book.rankings[key] = self._rank(job)
            self._book.carry.ranked_pools += len(kept.pools)
        return kept

    def _rank(self, job: PendingJob) -> ranking.Ranking:
        if not self._filled:
            self._fill(job)
        domain = list(self._live.domain)
        if not domain:
            return ranking.Ranking([], [], self._book.labels)
        get = _getter(domain)
        extremes: list[tuple[float, float] | None] = []
        for score, memo in zip(self._kinds.scores, self._values, strict=True):
            assert memo is not None  # `_totals_key` is None otherwise
            if not score.is_cost:
                extremes.append(None)
            elif not memo.varies:  # one value on every pool asked
                extremes.append(None if memo.first is None else (memo.first, memo.first))
            else:
                extremes.append(_extremes(memo, get))
        shared = self._book.totals(self._totals_key, tuple(extremes))
        by_label = self._book.label_order(self._live.survivors, domain)
        try:
            return ranking.Ranking(domain, list(get(shared)), self._book.labels, by_label)
        except KeyError:  # some pool of the domain not ranked with these extremes yet
            pass
        columns: list[float | list[float]] = []
        for score, memo, spread in zip(self._kinds.scores, self._values, extremes, strict=True):
            assert memo is not None
            if not memo.varies:  # one value on every pool asked, so on these
                columns.append(ranking.constant(score.weight, memo.first, score.is_cost))
                continue
            if score.is_cost and spread is None:  # no known cost in the domain
                columns.append(ranking.constant(score.weight, None, True))
                continue
            kept = self._book.column(memo, score.weight, spread)
            try:
                columns.append(list(get(kept)))
            except KeyError:
                weighted = ranking.weighted(score.weight, get(memo.by_pool), score.is_cost, spread)
                kept.update(zip(domain, weighted, strict=True))
                columns.append(weighted)
        scores = ranking.totals(columns, len(domain))
        shared.update(zip(domain, scores, strict=True))
        return ranking.Ranking(domain, scores, self._book.labels, by_label)

    def _best_afresh(self, job: PendingJob) -> tuple[int, float] | None:
        """The best pool for a class with a score asked afresh for every job: the feasible pools
        scored column by column, cost columns normalised over the domain (`ranking.weighted`)."""
        live, pools, working = self._live, self._book.pools, self._book.working
        feasible = live.admitted(job)
        if self._kinds.opaque:
            feasible = [i for i in feasible if self._opaque_admit(job, i)]
        if working.reserved > 0:
            feasible = self._usable(job, feasible)
        if not feasible:
            return None
        if not self._filled:
            self._fill(job)
        domain = live.domain
        columns: list[float | list[float]] = []
        for score, memo in zip(self._kinds.scores, self._values, strict=True):
            if memo is not None and not memo.varies:  # one value on every pool asked, so on these
                columns.append(ranking.constant(score.weight, memo.first, score.is_cost))
                continue
            if memo is not None:
                value = memo.by_pool.__getitem__
            else:
                asked: dict[int, float | None] = {}

                def value(
                    i: int, score: Score = score, asked: dict[int, float | None] = asked
                ) -> float | None:
                    if i not in asked:
                        asked[i] = score.ask(job, pools[i], working.free_for(i, job))
                    return asked[i]

            spread = ranking.spread(list(map(value, domain))) if score.is_cost else None
            columns.append(ranking.weighted(score.weight, list(map(value, feasible)), score.is_cost, spread))
        scores = ranking.totals(columns, len(feasible))
        k = ranking.best(scores, lambda k: self._book.labels[feasible[k]])
        return feasible[k], scores[k]

    def _fill(self, job: PendingJob) -> None:
        """Cache the reusable scores' raw values for every pool of the domain, once per class.
        A score with a `need_key` is asked once per pool and what a job needs of it, for every key
        (`JobClasses.raw`): an A100:8 or H800:8 job's cost on an A100 pool is an A100:8 job's. What
        a job needs of a pool depends on the pool only through its group (`need_pool_key`), so the
        domain is taken group by group."""
        pools, book = self._book.pools, self._book
        domain = self._live.survivors
        # A score with a memo does not read free capacity (`Score.key`): it is shown the snapshot's.
        for score, memo in zip(self._kinds.scores, self._values, strict=True):
            if memo is None or domain in memo.covered:
                continue
            memo.covered.add(domain)
            if score.need_key is None or score.need_pool_key is None:
                missing = list(filterfalse(memo.by_pool.__contains__, self._live.domain))
                memo.extend(missing, [score.ask(job, pools[i], pools[i].free) for i in missing])
                continue
            for members in book.score_groups(score.name, score.need_pool_key):
                here = members & domain
                if not here:
                    continue
                missing = list(filterfalse(memo.by_pool.__contains__, book.listed(here)))
                if not missing:
                    continue
                raw = book.raw(score.name, score.need_key(job, pools[missing[0]]))
                for i in filterfalse(raw.__contains__, missing):
                    raw[i] = score.ask(job, pools[i], pools[i].free)
                memo.extend(missing, list(map(raw.__getitem__, missing)))
        self._filled = True


def _extremes(
    memo: Values, get: Callable[[Mapping[int, Any]], tuple[Any, ...]]
) -> tuple[float, float] | None:
    """The lowest and highest known value among the pools `get` picks from `memo` (`ranking.spread`);
    None if no value is known."""
    if memo.odd:  # some value is not finite: among the known ones, as `ranking.spread` does
        return ranking.spread(get(memo.by_pool))
    lo = min(get(memo.lows))
    if lo == NO_COST:
        return None
    return lo, max(get(memo.highs))


def _getter(positions: list[int]) -> Callable[[Mapping[int, T]], tuple[T, ...]]:
    """What `itemgetter(*positions)` gives, always as a tuple (one position included)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return itemgetter(*positions)
