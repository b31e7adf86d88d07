"""Engines benchmark: the same batch of short jobs through plain `sbatch`, through suanli to the local
backend, and through suanli to the Slurm backend; latency and rate of each, and suanli's overhead.

Three paths, in one process, one after the other on the same machine:

- **sbatch**: `sbatch --wrap` on the local Slurm (scripts/ensure-slurm.sh), nothing of suanli running;
- **suanli→local**: a real `suanli server` (embedded SQLite) and a real `suanli agent` with the local
  backend (`cpu:4`, the Slurm node's CPUs), jobs submitted with the Python SDK;
- **suanli→Slurm**: the same server and an agent with the Slurm backend in front of the same Slurm.

Each phase submits its jobs one after another as fast as the client can (the batch), each job
`run: date +%s.%N > <scratch>/<id>.start; sleep 0.1` with 1 CPU and 64 MiB. **submit→running** is
from the client's clock before the submit call to the job's own start stamp (its process really
started); **submit→done** is until the client sees the job ended (`squeue` for sbatch, the job list of
the API for suanli, both polled every 0.1 s); **jobs/s** is the batch over first submit → last seen
done. A phase **one at a time** (a random pause of 0–1 s, submit, wait until seen done, next) gives
the latency with no queue; the pause keeps submits out of step with Slurm's scheduling pass.
Run: `make bench` or `.venv/bin/python bench/engines.py --jobs 50 --sequential 10`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from dispatch import SUANLI, percentile, wait_healthy

from suanli.client import Client

POLL_S = 0.1
STEP = "date +%s.%N > {stamps}/{name}.start; sleep 0.1"
Submit = Callable[[int], str]  # job number → id
Ended = Callable[[set[str]], set[str]]  # ids still live → those of them seen ended


def slurm(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def run_batch(submit: Submit, ended: Ended, stamps: Path, n: int, *, one_at_a_time: bool) -> dict[str, float]:
    """Submit n jobs (all at once, or each after the previous has ended); latencies in ms."""
    submitted: dict[str, float] = {}
    done: dict[str, float] = {}

    def watch(until: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 600
        while not until():
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(submitted) - len(done)} jobs did not end in 600 s")
            time.sleep(POLL_S)
            seen = time.time()
            for job_id in ended(set(submitted) - set(done)):
                done[job_id] = seen

    gaps = random.Random(n)  # the same gaps for every path
    first = time.time()
    for i in range(n):
        if one_at_a_time:  # so that submits do not fall in step with Slurm's 1 s scheduling pass
            time.sleep(gaps.uniform(0, 1))
        at = time.time()
        job_id = submit(i)
        submitted[job_id] = at
        if one_at_a_time:
            watch(lambda job_id=job_id: job_id in done)  # type: ignore[misc]
    watch(lambda: len(done) == len(submitted))
    started = {job_id: float((stamps / f"{job_id}.start").read_text()) for job_id in submitted}
    to_running = [(started[j] - submitted[j]) * 1000 for j in submitted]
    to_done = [(done[j] - submitted[j]) * 1000 for j in submitted]
    return {
        "p50_running_ms": percentile(to_running, 0.5),
        "p99_running_ms": percentile(to_running, 0.99),
        "p50_done_ms": percentile(to_done, 0.5),
        "p99_done_ms": percentile(to_done, 0.99),
        "jobs_per_s": n / max(max(done.values()) - first, 1e-9),
    }


def print_row(path: str, phase: str, n: int, row: dict[str, float]) -> None:
    rate = f"{row['jobs_per_s']:5.2f} jobs/s" if phase == "batch" else "  (pauses between jobs)"
    print(
        f"{path:<13} {phase:<13} n={n:<4} submit→running p50 {row['p50_running_ms']:7.0f} ms"
        f"  p99 {row['p99_running_ms']:7.0f} ms | submit→done p50 {row['p50_done_ms']:7.0f} ms"
        f"  p99 {row['p99_done_ms']:7.0f} ms | {rate}",
        flush=True,
    )


# -- plain sbatch ---------------------------------------------------------------------------------


def sbatch_path(stamps: Path) -> tuple[Submit, Ended]:
    def submit(i: int) -> str:
        wrap = STEP.format(stamps=stamps, name="$SLURM_JOB_ID")
        out = slurm(
            "sbatch",
            "--parsable",
            "-J",
            f"bench-{i}",
            "-c",
            "1",
            "--mem=64M",
            "-o",
            "/dev/null",
            "--wrap",
            wrap,
        )
        return out.strip().split(";")[0]

    def ended(live: set[str]) -> set[str]:
        if not live:
            return set()
        out = slurm("squeue", "-h", "-t", "all", "-j", ",".join(sorted(live)), "-o", "%i|%T")
        states = dict(line.split("|", 1) for line in out.split())
        gone = {
            j for j in live if states.get(j) not in (None, "PENDING", "CONFIGURING", "RUNNING", "COMPLETING")
        }
        bad = [f"{j}: {states[j]}" for j in gone if states[j] != "COMPLETED"]
        if bad:
            raise SystemExit(f"sbatch jobs did not complete: {bad[:3]}")
        return gone

    return submit, ended


# -- through suanli -------------------------------------------------------------------------------


def suanli_path(c: Client, stamps: Path, site: str) -> tuple[Submit, Ended]:
    def submit(i: int) -> str:
        spec = {
            "name": f"bench-{i}",
            "run": STEP.format(stamps=stamps, name="$SUANLI_JOB_ID"),
            "resources": {"cpus": 1, "memory": "64Mi"},
            "constraints": {"sites": [site]},
        }
        return str(c.submit_job(spec)["id"])

    def ended(live: set[str]) -> set[str]:
        found: set[str] = set()
        for state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            page = c.list_jobs(state=state, limit=500)
            for job in page["items"]:
                if job["id"] in live:
                    if state != "SUCCEEDED":
                        raise SystemExit(f"job {job['id']} {state}: {job.get('reason')}")
                    found.add(job["id"])
        return found

    return submit, ended


class Network:
    """A real server (SQLite) with a local site and a Slurm site, in a scratch directory."""

    def __init__(self, root: Path, port: int, slurm_poll: float) -> None:
        self.root, self.url = root, f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "SUANLI_CONFIG_DIR": str(root / "cli")}
        self.procs: list[subprocess.Popen[bytes]] = []
        self._start("server", ["server", "--port", str(port), "--data-dir", str(root / "server")])
        wait_healthy(self.url, self.procs[0])
        operator = (root / "server" / "operator.token").read_text().strip()
        with Client(self.url, operator) as op:
            op.create_org("bench", "tenant")
            op.create_project("bench", "default")
            op.add_member("bench", "bencher", role="owner")
            self.tenant = str(op.create_token("bench", user="bencher")["token"])
            op.create_org("dc", "provider")
            for site, extra in (
                ("bench-local", ["--pool", "cpu:4"]),
                ("bench-slurm", ["--backend", "slurm", "--backend-opt", f"poll_interval={slurm_poll}"]),
            ):
                token = op.create_site(site, org="dc")["enrollment_token"]
                args = ["--server", self.url, "--site", site, "--token", token]
                self._start(f"agent-{site}", ["agent", *args, "--state-dir", str(root / site), *extra])
            deadline = time.monotonic() + 60
            while {op.get_site(s)["state"] for s in ("bench-local", "bench-slurm")} != {"online"}:
                if time.monotonic() > deadline:
                    raise SystemExit(f"agents did not come online; see {root}")
                time.sleep(0.2)

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115  (lives as long as the process)
        self.procs.append(
            subprocess.Popen([*SUANLI, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def ratios(rows: dict[str, dict[str, float]], base: str, over: Iterable[str], *, rate: bool) -> None:
    for path in over:
        r, b = rows[path], rows[base]
        print(
            f"  {path} / {base}: submit→running p50 ×{r['p50_running_ms'] / b['p50_running_ms']:.2f}"
            f" ({r['p50_running_ms'] - b['p50_running_ms']:+.0f} ms), submit→done p50"
            f" ×{r['p50_done_ms'] / b['p50_done_ms']:.2f} ({r['p50_done_ms'] - b['p50_done_ms']:+.0f} ms)"
            + (f", jobs/s ×{r['jobs_per_s'] / b['jobs_per_s']:.2f}" if rate else "")
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=50, help="jobs in the batch (default 50)")
    ap.add_argument("--sequential", type=int, default=10, help="jobs one at a time (default 10)")
    ap.add_argument("--slurm-poll", type=float, default=1.0, help="the Slurm backend's poll_interval (s)")
    ap.add_argument("--port", type=int, default=18610)
    args = ap.parse_args()
    if shutil.which("sbatch") is None or subprocess.run(["sinfo", "-h"], capture_output=True).returncode:
        print("engines: no Slurm answers here (scripts/ensure-slurm.sh); skipped")
        return

    root = Path(tempfile.mkdtemp(prefix="suanli-bench-engines-"))
    stamps = root / "stamps"
    stamps.mkdir()
    sched = slurm("scontrol", "show", "config").split("SchedulerParameters", 1)[1].split("\n")[0]
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}; {slurm('sinfo', '-V').strip()}, SchedulerParameters{sched.strip()};"
        f" Slurm backend poll_interval {args.slurm_poll:g} s; database SQLite",
        flush=True,
    )
    rows: dict[str, dict[str, float]] = {}
    seq: dict[str, dict[str, float]] = {}

    def measure(path: str, submit: Submit, ended: Ended) -> None:
        run_batch(submit, ended, stamps, 2, one_at_a_time=True)  # warm-up
        seq[path] = run_batch(submit, ended, stamps, args.sequential, one_at_a_time=True)
        print_row(path, "one at a time", args.sequential, seq[path])
        rows[path] = run_batch(submit, ended, stamps, args.jobs, one_at_a_time=False)
        print_row(path, "batch", args.jobs, rows[path])

    network: Network | None = None
    try:
        measure("sbatch", *sbatch_path(stamps))  # before suanli's processes start
        network = Network(root, args.port, args.slurm_poll)
        c = Client(network.url, network.tenant)
        measure("suanli→local", *suanli_path(c, stamps, "bench-local"))
        measure("suanli→Slurm", *suanli_path(c, stamps, "bench-slurm"))
        print("one at a time:")
        ratios(seq, "sbatch", ("suanli→local", "suanli→Slurm"), rate=False)
        print("batch:")
        ratios(rows, "sbatch", ("suanli→local", "suanli→Slurm"), rate=True)
    finally:
        if network is not None:
            network.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
