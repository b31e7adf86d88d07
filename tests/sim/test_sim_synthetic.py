"""The synthetic generator: deterministic per seed, hits the offered load, looks like a real trace, round-trips."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from suanli.sim import load_trace
from suanli.sim.compare import synthetic_set
from suanli.sim.loaders import write_philly
from suanli.sim.synthetic import generate, offered_load
from suanli.sim.trace import EPOCH, Trace, TraceJob


def test_the_same_seed_gives_the_same_trace_and_another_seed_another() -> None:
    one = generate(jobs=500, gpus=32, load=0.7, tenants=4, seed=7)
    assert one == generate(jobs=500, gpus=32, load=0.7, tenants=4, seed=7)
    assert one.jobs != generate(jobs=500, gpus=32, load=0.7, tenants=4, seed=8).jobs


@pytest.mark.parametrize(("gpus", "load"), [(64, 0.8), (16, 1.2), (472, 0.5)])
def test_offered_load_is_the_target_within_a_few_percent(gpus: int, load: float) -> None:
    trace = generate(jobs=20_000, gpus=gpus, load=load, seed=1)
    assert offered_load(trace, gpus) == pytest.approx(load, rel=0.03)


def test_jobs_look_like_a_real_trace() -> None:
    trace = generate(jobs=20_000, gpus=16, load=0.8, tenants=5, seed=3)
    jobs = trace.jobs
    assert jobs[0].submit == 0.0 and trace.start == EPOCH
    assert all(a.submit <= b.submit for a, b in pairwise(jobs))
    sizes = Counter(j.gpus for j in jobs)
    assert set(sizes) == {1, 2, 4, 8, 16}  # 32 does not fit the pool
    assert sizes[1] / len(jobs) == pytest.approx(0.70 / 0.99, abs=0.02)
    durations = sorted(j.duration for j in jobs)
    assert durations[len(durations) // 2] == pytest.approx(1800, rel=0.1)
    assert durations[0] >= 1 and durations[-1] <= 7 * 86400
    tenants = Counter(j.tenant for j in jobs).most_common()
    assert [name for name, _ in tenants] == ["t1", "t2", "t3", "t4", "t5"]
    assert tenants[0][1] / tenants[1][1] == pytest.approx(2.0, rel=0.1)  # Zipf with exponent 1
    limited = [j for j in jobs if j.limit_s is not None]
    assert len(limited) / len(jobs) == pytest.approx(0.7, abs=0.02)
    assert all(j.duration <= j.limit_s and j.limit_s % 900 == 0 for j in limited if j.limit_s is not None)


def test_a_written_trace_reads_back_equal_through_the_philly_loader(tmp_path: Path) -> None:
    trace = generate(jobs=300, gpus=32, load=0.9, tenants=3, seed=11)
    path = tmp_path / "synthetic.csv"
    write_philly(trace, path)
    back = load_trace(path, "philly")
    assert back.jobs == trace.jobs
    assert back.start == trace.start
    assert (
        path.read_text().splitlines()[0]
        == "timestamp,duration,num_gpus,gpu_time,cluster,name,limit_s,model,preemptible,checkpoint_s"
    )


def test_a_trace_with_wall_clock_times_and_resumability_reads_back_equal(tmp_path: Path) -> None:
    """What `suanli sim-export` writes: date-times, jobs that may not be stopped, checkpoint intervals."""
    start = datetime(2026, 11, 2, 8, 30, 0, 250000)
    jobs = (
        TraceJob(
            "2", 0.0, 3600.0, 8, "lab", name="train", limit_s=7200.0, model="A100|H100", checkpoint_s=600.0
        ),
        TraceJob("3", 90.5, 12.25, 1, "ai-co", preemptible=False),
    )
    path = tmp_path / "exported.csv"
    write_philly(Trace("live", start, jobs), path, wall_clock=True)
    assert path.read_text().splitlines()[1].startswith("2026-11-02 08:30:00.250000,3600.0,8,")
    back = load_trace(path, "philly")
    assert back.jobs == jobs and back.start == start


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"jobs": 0}, "jobs must be between 1 and 2,000,000"),
        ({"jobs": 10**11}, "jobs must be between 1 and 2,000,000, not 100,000,000,000"),
        ({"load": 0.0}, "load must be above 0 and at most 100"),
        ({"load": math.inf}, "load must be above 0 and at most 100, not inf"),
        ({"load": 1e308}, "load must be above 0 and at most 100"),  # once a ZeroDivisionError
        ({"tenants": 0}, "tenants must be at least 1"),
        ({"gpu_mix": {64: 1.0}}, "no GPU count in the mix"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], says: str) -> None:
    args: dict[str, object] = {"jobs": 10, "gpus": 8, "load": 0.5} | kwargs
    with pytest.raises(ValueError, match=says):
        generate(**args)  # type: ignore[arg-type]


def test_the_synthetic_set_is_what_the_documented_sim_generate_commands_write(tmp_path: Path) -> None:
    """`sim-compare --synthetic` and the CSVs `docs/benchmarks.md` has `suanli sim-generate` write
    must be the same six traces, or the two ways of reproducing its table would disagree."""
    found = dict(synthetic_set())
    assert sorted(found) == [f"syn/{k}{s}.csv" for k in "hs" for s in (1, 2, 3)]
    assert {t.tenant for t in found["syn/h2.csv"].jobs} == {f"t{k}" for k in range(1, 16)}
    assert {t.tenant for t in found["syn/s2.csv"].jobs} == {f"t{k}" for k in range(1, 9)}
    path = tmp_path / "h1.csv"
    write_philly(generate(jobs=3000, gpus=64, load=0.8, seed=1, sigma=2.2, tenants=15), path)
    assert load_trace(path, "philly").jobs == found["syn/h1.csv"].jobs
