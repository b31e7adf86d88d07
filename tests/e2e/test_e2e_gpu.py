"""Real GPUs: the local backend finds this machine's NVIDIA GPUs and binds each job to the devices
it was given. Runs only where `nvidia-smi` answers (skipped elsewhere, CI included).

The job asks the CUDA driver itself (libcuda through ctypes, no framework needed) how many devices
it sees and their names: `CUDA_VISIBLE_DEVICES` is what makes that answer, so the test checks the
binding where it matters, not only the variable's text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from e2e_net import Network, wait_for

from suanli.agent.pools import discover_pools, query_nvidia_smi

GPUS = query_nvidia_smi()
pytestmark = pytest.mark.skipif(not GPUS, reason="no working nvidia-smi: no GPU on this machine")

# Prints "visible=<CUDA_VISIBLE_DEVICES> count=<devices the driver shows> name=<first device>".
CUDA_PROBE = textwrap.dedent(
    """
    import ctypes, os
    cuda = ctypes.CDLL("libcuda.so.1")
    status = cuda.cuInit(0)  # 100 is CUDA_ERROR_NO_DEVICE: what an empty CUDA_VISIBLE_DEVICES gives
    assert status in (0, 100), f"cuInit failed with {status}"
    count = ctypes.c_int()
    if status == 0:
        assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
    name = ctypes.create_string_buffer(256)
    if count.value:
        device = ctypes.c_int()
        cuda.cuDeviceGet(ctypes.byref(device), 0)
        cuda.cuDeviceGetName(name, 256, device)
    print(f"visible={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')} count={count.value} "
          f"name={name.value.decode()}")
    """
)


def probe_job(model: str, count: int, tmp_path: Path, name: str) -> dict[str, object]:
    script = tmp_path / f"{name}.py"
    script.write_text(CUDA_PROBE)
    spec: dict[str, object] = {"name": name, "run": f"python3 {script}"}
    if count:
        spec["resources"] = {"accelerators": f"{model}:{count}", "max_runtime": "5m"}
    return spec


def test_discovery_offers_every_gpu_under_its_catalog_model() -> None:
    pools = discover_pools()
    lines = [line for line in (GPUS or "").splitlines() if line.strip()]
    assert sum(len(pool.devices) for pool in pools) == len(lines)
    assert all(pool.accelerator for pool in pools), pools
    indices = sorted(device for pool in pools for device in pool.devices)
    assert indices == sorted(int(line.split(",")[0]) for line in lines)


def test_a_gpu_job_sees_exactly_the_devices_it_was_given(network: Network, tmp_path: Path) -> None:
    pools = discover_pools()
    pool = max(pools, key=lambda p: len(p.devices))
    model, devices = str(pool.accelerator), len(pool.devices)
    network.start_agent("gpu1", network.add_site("gpu1"), discover=True)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        whole = c.submit_job(probe_job(model, devices, tmp_path, "whole"))
        cpu_only = c.submit_job(probe_job(model, 0, tmp_path, "cpu-only"))
    for job in (whole, cpu_only):
        ended = wait_for(
            f"job {job['id']} to end",
            lambda j=job: (v := network.job(tenant, j["id"]))["state"] in ("SUCCEEDED", "FAILED") and v,
            timeout=120,
        )
        assert ended["state"] == "SUCCEEDED", network.cli(tenant, "logs", job["id"]).stdout
    whole_out = network.cli(tenant, "logs", whole["id"]).stdout
    visible = ",".join(str(d) for d in pool.devices)
    assert f"visible={visible} count={devices} " in whole_out, whole_out
    assert model.lower() in whole_out.lower().replace(" ", ""), whole_out
    cpu_out = network.cli(tenant, "logs", cpu_only["id"]).stdout
    assert "visible= count=0 " in cpu_out, cpu_out


def test_one_gpu_each_and_the_job_beyond_the_devices_waits_for_one(network: Network, tmp_path: Path) -> None:
    pool = max(discover_pools(), key=lambda p: len(p.devices))
    model = str(pool.accelerator)
    network.start_agent("gpu1", network.add_site("gpu1"), discover=True)
    tenant = network.add_tenant("acme", "ada")
    gate = tmp_path / "go"
    script = tmp_path / "hold.py"
    script.write_text(CUDA_PROBE)
    jobs = []
    with network.client(tenant) as c:
        for i in range(len(pool.devices) + 1):
            jobs.append(
                c.submit_job(
                    {
                        "name": f"one-{i}",
                        "run": f"python3 {script}; while [ ! -e {gate} ]; do sleep 0.2; done",
                        "resources": {"accelerators": f"{model}:1", "max_runtime": "5m"},
                    }
                )
            )
    running = wait_for(
        "every device busy",
        lambda: (
            (r := [j for j in jobs if network.job(tenant, j["id"])["state"] == "RUNNING"])
            and len(r) == len(pool.devices)
            and r
        ),
        timeout=120,
    )
    waiting = [j for j in jobs if j not in running]
    assert [network.job(tenant, j["id"])["state"] for j in waiting] == ["PENDING"]
    gate.touch()
    seen = set()
    for job in jobs:
        wait_for(f"{job['id']} done", lambda j=job: network.job(tenant, j["id"])["state"] == "SUCCEEDED", 120)
        out = network.cli(tenant, "logs", job["id"]).stdout
        line = next(x for x in out.splitlines() if x.startswith("visible="))
        assert " count=1 " in line, line
        seen.add(line.split()[0])
    # every job got one device; with more jobs than devices, some device was handed on
    assert seen == {f"visible={d}" for d in pool.devices}
