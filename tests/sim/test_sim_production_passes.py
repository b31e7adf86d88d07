"""The production-scheduler policies skip passes that could decide nothing, find their wake-ups
from a heap, and keep what they read of each running job until it could change: none may change a
decision. Each is checked against a plain twin that calls the scheduler at every pass and works out
every running job's moments and every waiting job's ageing bound afresh, as the policy did before."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_builders import trace_of

from suanli.scheduler import service
from suanli.sim import Network, Run, Trace, load_trace, simulate
from suanli.sim.compare import pool_size, with_checkpoints
from suanli.sim.policies.service import LeastAttainedService, ServiceOrder

FIXTURE = Path(__file__).parent / "fixtures" / "philly-2000.csv"


def _plain(policy: type[ServiceOrder]) -> type[ServiceOrder]:
    class Plain(policy):  # type: ignore[misc, valid-type]
        def _may_act(self, now: float, at: datetime, free: object) -> bool:
            return True  # a cycle at every pass with anything waiting

        def _wake(self, now: float, at: datetime) -> float | None:
            if self._requeued:
                return now + 1e-3
            if not self._pending:
                return None
            soonest = math.inf
            for r in self._running.by_job.values():  # every running job's next moment, worked out afresh
                if not r.preemptible:
                    continue
                value = service.running_service_s(r, at, self.every_band)
                if value is None:
                    protected = service.protected_until(r, self.every_band)
                    if protected is not None:
                        soonest = min(soonest, max(now + (protected - at).total_seconds(), now) + 1e-3)
                    continue
                gpus = max(r.per_node.accelerators, 1)
                soonest = min(soonest, max(now + (service.next_rung_s(value) - value) / gpus, now) + 1e-3)
                until = service.next_evictable_s(r, at)
                if until > 0:
                    soonest = min(soonest, now + until + 1e-3)
            if not self.every_band and len(self._pending) == 1:  # a lone job stops holding back
                (j,) = self._pending.values()
                held = service.holds_back_until_s(j)
                if held is not None:
                    moment = (j.created_at - self._trace.start).total_seconds() + held
                    if moment > now:
                        soonest = min(soonest, moment + 1e-3)
            for j in self._pending.values():  # every waiting job's ageing bound, scanned
                if service.may_age(j, self.every_band):
                    bound = service.ageing_bound_s(
                        j.expected_s, j.ran_s, service.accelerators(j), self.every_band
                    )
                    waited = service.waited_s(j, at)
                    if waited < bound:
                        soonest = min(soonest, max(now + bound - waited, now) + 1e-3)
            return None if soonest == math.inf else soonest

    return Plain


def _run(policy: type[ServiceOrder], trace: Trace, gpus: int) -> tuple[Run, int]:
    made = policy(trace, Network.single(gpus))
    return simulate(trace, gpus, made, checkpoint_s=1800), made.cycles


def _same(a: Run, b: Run) -> None:
    """The same decisions: who started when on which pool, preemptions and the work they lost (times
    to a tenth of a millisecond, a tenth of the wake-up's nudge: a running job's next moment worked
    out at an earlier pass may differ from one worked out afresh in its last microseconds)."""
    for x, y in zip(a.outcomes, b.outcomes, strict=True):
        assert (x.preemptions, x.pool) == (y.preemptions, y.pool)
        assert x.first_start == pytest.approx(y.first_start, abs=1e-4)
        assert x.finish == pytest.approx(y.finish, abs=1e-4)
        assert x.lost_s == pytest.approx(y.lost_s, abs=1e-4)


@pytest.mark.parametrize("policy", [LeastAttainedService, ServiceOrder])
def test_skipped_passes_change_no_decision_on_a_real_trace(policy: type[ServiceOrder]) -> None:
    trace = with_checkpoints(load_trace(FIXTURE, "philly", 400), 1800)
    gpus = pool_size(trace)
    fast, cycles = _run(policy, trace, gpus)
    plain, plain_cycles = _run(_plain(policy), trace, gpus)
    _same(fast, plain)
    assert sum(o.preemptions for o in fast.outcomes) > 0  # the trace exercises eviction
    assert cycles < plain_cycles  # and passes were skipped


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20_000),
            st.integers(1, 30_000),
            st.sampled_from([1, 1, 2, 3, 4]),
            st.sampled_from(["a", "b"]),
            st.booleans(),
        ),
        min_size=2,
        max_size=20,
    )
)
def test_skipped_passes_change_no_decision_on_random_traces(
    jobs: list[tuple[int, int, int, str, bool]],
) -> None:
    base = trace_of(*((s, d, g, t) for s, d, g, t, _ in jobs))
    trace = replace(
        base, jobs=tuple(replace(j, preemptible=p) for j, (*_, p) in zip(base.jobs, jobs, strict=True))
    )
    _same(_run(LeastAttainedService, trace, 4)[0], _run(_plain(LeastAttainedService), trace, 4)[0])
