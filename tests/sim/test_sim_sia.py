"""The Sia workload loader: durations computed from a small hand-made profile, worked out by hand."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from suanli.sim import TraceError, load_trace
from suanli.sim.loaders.sia import load_sia

HEADER = "name,time,application,num_replicas,batch_size\n"
SHIPPED = Path("/work/shared/traces/sia-workloads")


def profiles(root: Path) -> Path:
    """A cifar10 profile on `dgx`: nodes of 2 GPUs, 100 epochs taking 1000 iterations at batch 64, 600 at 128."""
    app = root / "sia-throughput-profiles" / "cifar10"
    app.mkdir(parents=True)
    (app / "placements-dgx.csv").write_text(
        "local_bsz,step_time,sync_time,placement\n"
        "32,0.1,0.01,1\n64,0.2,0.01,1\n"
        "32,0.15,0.05,2\n64,0.25,0.05,2\n"
        "32,0.3,0.1,22\n64,0.5,0.1,22\n"
    )
    (app / "scalability-dgx.csv").write_text(
        "local_bsz,step_time,sync_time,num_nodes,num_replicas\n16,0.3,0.1,3,6\n32,0.4,0.2,3,6\n"
    )
    for batch, last in ((64, 1000), (128, 600)):
        rows = [f"{e},{round(last * (e + 1) / 100)},0.5,1.0,1.0\n" for e in range(100)]
        (app / f"validation-{batch}.csv").write_text(
            "progress,iteration,metric,grad_sqr,grad_var\n" + "".join(rows)
        )
    return root / "sia-throughput-profiles"


def load(tmp_path: Path, body: str) -> list[tuple[str, float, int, str]]:
    profiles(tmp_path)
    path = tmp_path / "workloads" / "philly" / "workload-1.csv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + body)
    trace = load_trace(path, "sia")  # finds sia-throughput-profiles/ beside a parent folder
    return [(j.id, j.duration, j.gpus, j.tenant) for j in trace.jobs]


@pytest.mark.parametrize(
    ("row", "duration"),
    [
        # 1 replica, batch 64: local 64 fits, step 0.2 s; 1000 iterations; × cifar10's slowdown 1.8
        ("a,0,cifar10,1,64", 1000 * 0.2 * 1.8),
        # 2 replicas on one node, batch 96: local 48 → step 0.2 (between 0.15 and 0.25);
        # iterations between 1000 (64) and 600 (128) → 800
        ("b,0,cifar10,2,96", 800 * 0.2 * 1.8),
        # 1 replica, batch 128: local 128 > 64 measured → 1 extra micro-step of 64:
        # 0.2 + 1 × (0.2 − 0.01) = 0.39 s per iteration
        ("c,0,cifar10,1,128", 600 * 0.39 * 1.8),
        # 6 replicas = placement 222, not profiled → scalability (3 nodes, 6 replicas); local ⌈128/6⌉ = 22
        # → step 0.3 + 6/16 × 0.1 = 0.3375
        ("d,0,cifar10,6,128", 600 * 0.3375 * 1.8),
    ],
)
def test_duration_is_iterations_times_step_time_times_slowdown(
    tmp_path: Path, row: str, duration: float
) -> None:
    [(name, got, gpus, tenant)] = load(tmp_path, row + "\n")
    assert got == pytest.approx(duration)
    assert (name, gpus, tenant) == (row[0], int(row.split(",")[3]), "cifar10")


def test_shapes_and_batches_the_profile_lacks_are_skipped_and_counted(tmp_path: Path) -> None:
    profiles(tmp_path)
    path = tmp_path / "w.csv"
    path.write_text(HEADER + "ok,5,cifar10,1,64\nsmall,6,cifar10,4,64\nbig,7,cifar10,1,4096\n")
    trace = load_sia(path, profiles=tmp_path / "sia-throughput-profiles")
    assert [(j.id, j.submit) for j in trace.jobs] == [("ok", 5.0)]
    assert trace.skipped == (("shape or batch size not in the dgx profile", 2),)


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ("a,0,resnet,1,64\n", ":2: column 3 (application)", "'resnet' is not one of bert, cifar10"),
        ("a,0,cifar10,0,64\n", ":2: column 4 (num_replicas)", "'0' is not 1 or more"),
        ("a,soon,cifar10,1,64\n", ":2: column 2 (time)", "'soon' is not seconds"),
        ("a,0,cifar10,1\n", ":2:", "expected 5 fields, found 4"),
        ("a,1e15,cifar10,1,64\n", ":2: column 2 (time)", "allowed 0 to 3,153,600,000 seconds"),
    ],
)
def test_malformed_rows_name_file_line_and_column(tmp_path: Path, body: str, where: str, says: str) -> None:
    profiles(tmp_path)
    path = tmp_path / "w.csv"
    path.write_text(HEADER + body)
    with pytest.raises(TraceError) as caught:
        load_trace(path, "sia")
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


def test_without_profiles_or_with_an_unknown_gpu_the_loader_says_so(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(HEADER + "a,0,cifar10,1,64\n")
    with pytest.raises(TraceError, match="no sia-throughput-profiles/ folder"):
        load_trace(path, "sia")
    with pytest.raises(TraceError, match="unknown Sia GPU type 'h100'"):
        load_sia(path, gpu="h100")


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shared trace folder is not on this machine")
def test_every_shipped_workload_loads_on_dgx() -> None:
    paths = sorted(glob.glob(str(SHIPPED / "*" / "workload-*.csv")))
    traces = [load_trace(Path(p), "sia") for p in paths]
    assert len(traces) == 18 and all(len(t) == 160 and not t.skipped for t in traces)
    durations = [j.duration for t in traces for j in t.jobs]
    assert min(durations) > 100 and max(durations) < 8 * 3600
