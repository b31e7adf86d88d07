"""How far protecting jobs from eviction could take the default policy: an analysis that READS TRUE
DURATIONS, so it is never a policy (issue 7 forbids that); it bounds what any rule that protects the
same jobs from a prediction could reach.

Per trace (one pool sized to offered load ≤ 0.8, as `sim_compare.py`), it replays `suanli-las`
unchanged and once per `--rule`, where the rule makes the jobs it names unstoppable for the
scheduler's service eviction and gathering (`Victims.stoppable`): `long=F` the jobs whose true run
time is at least F × EASY's p99 JCT on that trace, `wide=N` the jobs of N GPUs or more, or both
(`long=0.5,wide=16`). `soon=S` protects by the waiting job instead: no attempt is stopped for service
for a job whose GPUs are free on that pool now or will be within S seconds, by the running jobs'
true ends (it does not ask whether other waiting jobs take that room first). Eviction for priority
or quota is untouched. It prints each replay's average,
p99 and Jain's index against the goals' bars (`sim.compare.check`), and per rule on how many traces
all three goals are met.

`--clairvoyant` bounds the other half of the policy, its predictions: every replay of `suanli-las`
(as is and under each rule) then expects each job to run exactly as long as it will
(`TruePredictions` in place of the history's geometric means).

`--srpt F` (repeatable) asks what a policy that knows everything reaches, not just one rule: `RemainingFirst`
runs the job with the shortest true remaining time first (first fit, no blocking), evicts an attempt
only for a job with less remaining time and only within `CHECKPOINT_WINDOW_S` of its last checkpoint
(as `suanli-las`), and never evicts nor delays the jobs whose true run time is at least F × EASY's p99
(they start first, in arrival order).

Run: `.venv/bin/python bench/sim_oracle.py [--trace FORMAT:PATH[:LIMIT] ...] [--synthetic]
[--clairvoyant] [--srpt 0.75] --rule long=0.5 --rule wide=8 --rule long=0.5,wide=16`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, NamedTuple

from suanli.scheduler import service
from suanli.scheduler.predict import JobFacts, Predictor
from suanli.scheduler.service import CHECKPOINT_WINDOW_S
from suanli.scheduler.snapshot import PendingJob, Running
from suanli.scheduler.victims import Victims
from suanli.sim import Network, SimError, make_policy, simulate, summarize
from suanli.sim.compare import (
    DEFAULT,
    DEFAULT_CHECKPOINT_S,
    Goals,
    check,
    load_named,
    pool_size,
    synthetic_set,
    with_checkpoints,
)
from suanli.sim.metrics import Summary
from suanli.sim.policies.service import ServiceOrder
from suanli.sim.policy import NOTHING, Decision, PoolState
from suanli.sim.report import markdown
from suanli.sim.trace import Trace, TraceJob


class Rule(NamedTuple):
    long: float | None = None  # protect jobs whose true run time is ≥ this × EASY's p99
    wide: int | None = None  # protect jobs of this many GPUs or more
    soon: float | None = None  # no eviction for a job whose room is free within this many seconds


def parse_rule(text: str) -> Rule:
    """`long=F`, `wide=N`, `soon=S` or several, comma-separated; None where not given."""
    long: float | None = None
    wide: int | None = None
    soon: float | None = None
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            if key == "long":
                long = float(value)
            elif key == "wide":
                wide = int(value)
            elif key == "soon":
                soon = float(value)
            else:
                raise ValueError
        except ValueError:
            raise SystemExit(
                f"--rule {text!r}: each part is long=F (a number), wide=N (GPUs) or soon=S (seconds)"
            ) from None
    return Rule(long, wide, soon)


@contextmanager
def unstoppable(blocks: Callable[[Running, PendingJob], bool]) -> Iterator[None]:
    """While inside, the scheduler may not stop attempt `r` for service (evict, gather) for waiting
    job `job` where `blocks(r, job)`; stopping for a higher priority is untouched."""
    stoppable = Victims.stoppable

    def guarded(self: Victims, r: Running, job: PendingJob) -> bool:
        if not stoppable(self, r, job):
            return False
        return r.priority != job.priority or not blocks(r, job)

    Victims.stoppable = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        Victims.stoppable = stoppable  # type: ignore[method-assign]


def protected(is_protected: Callable[[int], bool]) -> AbstractContextManager[None]:
    """While inside, the scheduler may not stop for service an attempt of a trace job `is_protected`
    names (the simulator's job ids are the trace's job indexes)."""
    return unstoppable(lambda r, job: is_protected(int(r.job_id)))


@contextmanager
def room_soon(seconds: float) -> Iterator[None]:
    """While inside, no attempt is stopped for service for a waiting job whose GPUs on the attempt's
    pool are free now or will be within `seconds`, by the true ends of the jobs running there (read
    from the trace at each cycle of `suanli-las`)."""
    soon: list[int] = []
    cycle = ServiceOrder._cycle

    def watched(self: ServiceOrder, now: float, at: Any, pool: Any, free: list[int], *rest: Any) -> bool:
        jobs = self._trace.jobs
        soon[:] = free
        for job, began in self._accrues.items():
            if began + jobs[job].duration - self._ran_before[job] <= now + seconds:
                soon[int(self._running.by_job[job].pool_id)] += jobs[job].gpus
        return cycle(self, now, at, pool, free, *rest)

    ServiceOrder._cycle = watched  # type: ignore[method-assign,assignment]
    try:
        with unstoppable(lambda r, job: service.accelerators(job) <= soon[int(r.pool_id)]):
            yield
    finally:
        ServiceOrder._cycle = cycle  # type: ignore[method-assign]


class TruePredictions(Predictor):
    """A predictor that knows: each job is expected to run its true duration (an oracle for the
    policy's predictions). It answers for the `JobFacts` objects of one policy, by identity, since
    several jobs may share the same facts."""

    def __init__(self, facts: list[JobFacts], trace: Trace) -> None:
        super().__init__()
        self._true = {id(f): job.duration for f, job in zip(facts, trace.jobs, strict=True)}

    def expected_s(self, job: JobFacts) -> float | None:
        return self._true[id(job)]


class RemainingFirst:
    """ORACLE policy (reads true durations) on one pool: shortest true remaining time first, the jobs
    of at least `long_s` true run time before all others (in arrival order) and never evicted. A
    waiting job that does not fit evicts running attempts with more remaining time than its own, the
    most remaining first, each only within `window_s` after its last checkpoint (every
    `checkpoint_s` of progress), and only if they make its room. When something waits and some attempt
    is outside its window, it wakes when the next one enters it."""

    name = "srpt-oracle"

    def __init__(
        self,
        trace: Trace,
        long_s: float,
        checkpoint_s: float = DEFAULT_CHECKPOINT_S,
        window_s: float = CHECKPOINT_WINDOW_S,
    ) -> None:
        self._jobs = trace.jobs
        self._long_s = long_s
        self._every = [job.checkpoint_s or checkpoint_s for job in trace.jobs]
        self._window_s = window_s
        self._waiting: set[int] = set()
        self._running: set[int] = set()

    def arrive(self, job: int, now: float) -> None:
        self._waiting.add(job)

    def depart(self, job: int, now: float) -> None:
        self._running.discard(job)

    def _key(self, job: int, now: float, pool: PoolState) -> tuple[int, float, int]:
        facts = self._jobs[job]
        if facts.duration >= self._long_s:
            return (0, facts.submit, job)
        return (1, facts.duration - pool.executed_s(job, now), job)

    def _since_checkpoint(self, job: int, now: float, pool: PoolState) -> float:
        return pool.executed_s(job, now) % self._every[job]

    def decide(self, now: float, pool: PoolState) -> Decision:
        if not self._waiting:
            return NOTHING
        key = {j: self._key(j, now, pool) for j in (*self._waiting, *self._running)}
        free = pool.pool_free[0]
        victims = sorted((j for j in self._running if key[j][0] == 1), key=key.__getitem__, reverse=True)
        start: list[int] = []
        preempt: list[int] = []
        for job in sorted(self._waiting, key=key.__getitem__):
            need = self._jobs[job].gpus
            if need > free:
                chosen = []
                for victim in victims:
                    if key[victim] <= key[job]:
                        break
                    if self._since_checkpoint(victim, now, pool) <= self._window_s:
                        chosen.append(victim)
                        free += self._jobs[victim].gpus
                        if free >= need:
                            break
                if free < need:
                    free -= sum(self._jobs[v].gpus for v in chosen)
                    continue
                for victim in chosen:
                    victims.remove(victim)
                preempt.extend(chosen)
            start.append(job)
            free -= need
        self._waiting.difference_update(start)
        self._running.update(start)
        self._running.difference_update(preempt)
        self._waiting.update(preempt)
        wake = None
        if self._waiting:
            outside = [
                self._every[j] - self._since_checkpoint(j, now, pool)
                for j in victims
                if self._since_checkpoint(j, now, pool) > self._window_s
            ]
            wake = now + max(min(outside), 1.0) if outside else None  # ≥ 1 s: float rounding
        if not (start or preempt or wake):
            return NOTHING
        return Decision(tuple(start), tuple(preempt), wake_at=wake)


def replay(trace: Trace, gpus: int, name: str, clairvoyant: bool = False) -> Summary:
    net = Network.single(gpus)
    policy = make_policy(name, trace, net)
    if clairvoyant:
        policy._predictor = TruePredictions(policy._facts, trace)  # type: ignore[attr-defined]
    run = simulate(trace, net, policy, name=name, checkpoint_s=DEFAULT_CHECKPOINT_S)
    return summarize(trace, run)


def cells(goals: Goals, s: Summary) -> tuple[str, ...]:
    mark = {True: "✓", False: "✗"}
    return (
        f"{goals.avg_jct_s / 3600:.2f} {mark[goals.avg_ok]}",
        f"{goals.p99_jct_s / 3600:.2f} {mark[goals.p99_ok]}",
        f"{goals.jain:.3f} {mark[goals.jain_ok]}",
        f"{s.preemptions:,}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", action="append", default=[], help="FORMAT:PATH[:LIMIT] (repeatable)")
    parser.add_argument(
        "--synthetic", action="store_true", help="also the six synthetic traces (`sim.compare.synthetic_set`)"
    )
    parser.add_argument(
        "--clairvoyant",
        action="store_true",
        help="suanli-las predicts every job's true run time (bounds what better predictions could do)",
    )
    parser.add_argument(
        "--rule", action="append", default=[], help="long=F, wide=N, soon=S or several (repeatable)"
    )
    parser.add_argument(
        "--srpt",
        action="append",
        type=float,
        default=[],
        metavar="F",
        help="also the clairvoyant RemainingFirst, jobs of at least F × EASY's p99 first (repeatable)",
    )
    args = parser.parse_args()
    if not args.trace and not args.synthetic:
        parser.error("name at least one --trace, or --synthetic")
    if not args.rule and not args.clairvoyant and not args.srpt:
        parser.error("name at least one --rule, --srpt, or --clairvoyant")
    rules = [(text, parse_rule(text)) for text in args.rule]
    traces: list[tuple[str, Trace]] = []
    for spec in args.trace:
        try:
            label, _, found = load_named(spec)
        except SimError as exc:
            print(f"{spec}: {exc}", file=sys.stderr)
            return 1
        traces.append((label, found))
    if args.synthetic:
        traces.extend(synthetic_set())
    srpts = [f"srpt {f:g}" for f in args.srpt]
    met = dict.fromkeys(["as is", *args.rule, *srpts], 0)
    rows: list[tuple[str, ...]] = []
    for where, loaded in traces:
        trace = with_checkpoints(loaded, DEFAULT_CHECKPOINT_S)
        gpus = pool_size(trace)
        base = [replay(trace, gpus, name) for name in ("easy", "las", "las2")]
        base.append(replay(trace, gpus, DEFAULT, args.clairvoyant))
        goals = check(base)
        assert goals is not None
        bars = f"{goals.avg_jct_bar_s / 3600:.2f} / {goals.p99_jct_bar_s / 3600:.2f} / {goals.jain_bar:.3f}"
        rows.append((where, bars, "as is", *cells(goals, base[-1])))
        met["as is"] += goals.avg_ok and goals.p99_ok and goals.jain_ok
        for text, rule in rules:
            cut = None if rule.long is None else rule.long * goals.p99_jct_bar_s

            def named(
                i: int,
                cut: float | None = cut,
                wide: int | None = rule.wide,
                jobs: tuple[TraceJob, ...] = trace.jobs,
            ) -> bool:
                return (cut is not None and jobs[i].duration >= cut) or (
                    wide is not None and jobs[i].gpus >= wide
                )

            with protected(named), nullcontext() if rule.soon is None else room_soon(rule.soon):
                s = replay(trace, gpus, DEFAULT, args.clairvoyant)
            g = check([*base[:3], s])
            assert g is not None
            rows.append((where, bars, text, *cells(g, s)))
            met[text] += g.avg_ok and g.p99_ok and g.jain_ok
        for text, f in zip(srpts, args.srpt, strict=True):
            net = Network.single(gpus)
            oracle = RemainingFirst(trace, f * goals.p99_jct_bar_s)
            s = summarize(trace, simulate(trace, net, oracle, name=text, checkpoint_s=DEFAULT_CHECKPOINT_S))
            g = check([*base[:3], s], text)
            assert g is not None
            rows.append((where, bars, text, *cells(g, s)))
            met[text] += g.avg_ok and g.p99_ok and g.jain_ok
        print(f"{where}: done", file=sys.stderr)
    header = ("trace", "bars (avg / p99 / Jain)", "replay", "avg", "p99", "Jain", "preemptions")
    print(markdown(header, rows))
    print()
    for text, n in met.items():
        told = " (suanli-las told true run times)" if args.clairvoyant and text not in srpts else ""
        print(f"{text}{told}: all three goals met on {n} of {len(traces)} traces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
