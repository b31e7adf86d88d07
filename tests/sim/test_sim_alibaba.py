"""The Alibaba GPU 2023 pod-list loader: the mapping, what is skipped, and errors by column."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import TraceError, TraceJob, load_trace

HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)
BODY = (
    "openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0\n"
    "openb-pod-0001,6000,12288,1,460,T4,BE,Running,427061,12902960,427100\n"
    "openb-pod-0002,88000,327680,8,1000,V100M16|V100M32,LS,Succeeded,500000,600000,500010\n"
    "openb-pod-0003,4000,8192,0,0,,BE,Running,510000,520000,510000\n"
    "openb-pod-0004,11908,47104,1,1000,,BE,Pending,10001278,10001403,\n"
    "openb-pod-0005,16000,65536,2,1000,,Burstable,Failed,600000,600000,600000\n"
)
SHIPPED = Path("/work/shared/traces/alibaba-gpu-v2023/openb_pod_list_default.csv")


def write(tmp_path: Path, body: str = BODY, header: str = HEADER) -> Path:
    path = tmp_path / "openb_pod_list_test.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_gpu_pods_become_whole_gpu_jobs_and_the_rest_are_counted(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path), "alibaba")
    assert trace.jobs == (
        TraceJob("openb-pod-0000", 0.0, 12537496.0, 1, "LS", name="openb-pod-0000"),
        # a 0.46-GPU pod holds one whole GPU; duration counts from scheduling, not creation
        TraceJob("openb-pod-0001", 427061.0, 12475860.0, 1, "BE", model="T4", name="openb-pod-0001"),
        TraceJob(
            "openb-pod-0002", 500000.0, 99990.0, 8, "LS", model="V100M16|V100M32", name="openb-pod-0002"
        ),
        TraceJob("openb-pod-0005", 600000.0, 0.0, 2, "Burstable", name="openb-pod-0005"),
    )
    assert trace.skipped_line() == "skipped 2 jobs: 1 CPU only, 1 never scheduled"


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ("p,1,1,one,1000,,LS,Running,0,10,0\n", ":2: column 4 (num_gpu)", "'one' is not a whole number"),
        ("p,1,1,1,1200,,LS,Running,0,10,0\n", ":2: column 5 (gpu_milli)", "between 0 and 1000"),
        ("p,1,1,1,1000,,LS,Running,,10,0\n", ":2: column 9 (creation_time)", "'' is not seconds"),
        ("p,1,1,1,1000,,LS,Running,0,10,20\n", ":2: column 10 (deletion_time)", "before scheduled_time"),
        ("p,1,1,1,1000,,LS,Running,0,10\n", ":2:", "expected 11 fields, found 10"),
        ("p,1,1,1,1000,,LS,Running,1e15,1e15,1e15\n", ":2: column 9 (creation_time)", "allowed 0 to"),
        ("p,1,1,1,1000,,LS,Running,0,1e12,0\n", ":2: column 10 (deletion_time)", "allowed up to 157,680,000"),
    ],
)
def test_malformed_rows_name_file_line_and_column(tmp_path: Path, body: str, where: str, says: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TraceError) as caught:
        load_trace(path, "alibaba")
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


def test_a_variant_without_times_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path, "openb-pod-0000,12000,16384,1,1000\n", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
    )
    with pytest.raises(
        TraceError, match=r":1: header lacks column\(s\) gpu_spec, qos, creation_time.*multigpu"
    ):
        load_trace(path, "alibaba")


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shared trace folder is not on this machine")
def test_the_shipped_default_list_loads() -> None:
    trace = load_trace(SHIPPED, "alibaba")
    assert len(trace) == 6203
    assert trace.skipped == (("CPU only", 1088), ("never scheduled", 861))
    assert {j.tenant for j in trace.jobs} == {"LS", "BE", "Burstable", "Guaranteed"}
