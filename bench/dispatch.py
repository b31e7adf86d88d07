"""Dispatch benchmark: submit trivial jobs through the API to a local site; report latency and rate.

Starts a real `suanli server` and a real `suanli agent` (local backend) on loopback, in a scratch
directory, then runs two phases:

- sequential: one job at a time (submit, wait until done): latency without queueing;
- burst: N jobs submitted from several threads at once: throughput and latency under load.

Times come from the server's own records (created_at, started_at = RUNNING reported, ended_at), so
client overhead is not counted in the latencies. Run: `make bench` or
`.venv/bin/python bench/dispatch.py --jobs 200 [--database-url postgresql://…]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from suanli.client import Client

SUANLI = [sys.executable, "-m", "suanli"]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become healthy")


def wait_done(c: Client, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    """Poll the job list (one request per pass, not one per job) until every job has ended."""
    deadline = time.monotonic() + timeout
    wanted = set(ids)
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            cursor = None
            while True:
                page = c.list_jobs(state=state, limit=500, cursor=cursor)
                done.update({j["id"]: j for j in page["items"] if j["id"] in wanted})
                cursor = page["next_cursor"]
                if not cursor:
                    break
        if len(done) == len(wanted):
            return [done[i] for i in ids]
        time.sleep(0.2)
    raise SystemExit(f"{len(wanted) - len(done)} jobs did not finish in {timeout}s")


def report(name: str, jobs: list[dict[str, Any]], wall: float) -> dict[str, float]:
    failed = [j for j in jobs if j["state"] != "SUCCEEDED"]
    if failed:
        raise SystemExit(f"{len(failed)} jobs did not succeed, e.g. {failed[0]['reason']}")
    to_running = [(parse(j["started_at"]) - parse(j["created_at"])).total_seconds() * 1000 for j in jobs]
    to_done = [(parse(j["ended_at"]) - parse(j["created_at"])).total_seconds() * 1000 for j in jobs]
    first = min(parse(j["created_at"]) for j in jobs)
    last = max(parse(j["ended_at"]) for j in jobs)
    rate = len(jobs) / max((last - first).total_seconds(), 1e-9)
    row = {
        "p50_running_ms": percentile(to_running, 0.5),
        "p99_running_ms": percentile(to_running, 0.99),
        "p50_done_ms": percentile(to_done, 0.5),
        "p99_done_ms": percentile(to_done, 0.99),
        "jobs_per_s": rate,
    }
    print(
        f"{name:<11} n={len(jobs):<4} submit→running p50 {row['p50_running_ms']:7.1f} ms  p99 {row['p99_running_ms']:7.1f} ms"
        f" | submit→done p50 {row['p50_done_ms']:7.1f} ms  p99 {row['p99_done_ms']:7.1f} ms"
        f" | {rate:6.1f} jobs/s (wall {wall:.1f} s)"
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200, help="jobs in the burst phase (default 200)")
    ap.add_argument("--sequential", type=int, default=50, help="jobs in the sequential phase (default 50)")
    ap.add_argument("--threads", type=int, default=8, help="submitting threads in the burst phase")
    ap.add_argument("--slots", type=int, default=8, help="CPU slots of the local site (concurrent jobs)")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL; default SQLite in a scratch dir")
    ap.add_argument("--port", type=int, default=18600)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="suanli-bench-"))
    url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "SUANLI_CONFIG_DIR": str(root / "cli"), "SUANLI_SCHEDULE_INTERVAL": "1"}
    server_cmd = [*SUANLI, "server", "--port", str(args.port), "--data-dir", str(root / "server")]
    if args.database_url:
        server_cmd += ["--database-url", args.database_url]
    log = open(root / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(server_cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    agent: subprocess.Popen[bytes] | None = None
    try:
        wait_healthy(url, server)
        operator = (root / "server" / "operator.token").read_text().strip()
        with Client(url, operator) as op:
            op.create_org("bench", "tenant")
            op.create_project("bench", "default")
            op.add_member("bench", "bencher", role="owner")
            tenant = op.create_token("bench", user="bencher")["token"]
            op.create_org("dc", "provider")
            enroll = op.create_site("bench-site", org="dc")["enrollment_token"]
        agent = subprocess.Popen(
            [
                *SUANLI,
                "agent",
                "--server",
                url,
                "--site",
                "bench-site",
                "--token",
                enroll,
                "--state-dir",
                str(root / "agent"),
                "--pool",
                f"cpu:{args.slots}",
            ],
            env=env,
            stdout=open(root / "agent.log", "wb"),  # noqa: SIM115  (lives as long as the agent)
            stderr=subprocess.STDOUT,
        )
        c = Client(url, tenant)
        deadline = time.monotonic() + 30
        while c.get_site("bench-site")["state"] != "online":
            if time.monotonic() > deadline:
                raise SystemExit("agent did not come online")
            time.sleep(0.1)
        spec = {"name": "noop", "run": "true", "resources": {"cpus": 1, "memory": "64Mi"}}
        print(
            f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()};"
            f" database: {'PostgreSQL' if args.database_url else 'SQLite'}; site slots: {args.slots}"
        )
        # Warm-up: first imports and connections.
        wait_done(c, [c.submit_job(spec)["id"] for _ in range(3)], 60)

        started = time.monotonic()
        seq = [wait_done(c, [c.submit_job(spec)["id"]], 60)[0] for _ in range(args.sequential)]
        report("sequential", seq, time.monotonic() - started)

        started = time.monotonic()
        with ThreadPoolExecutor(args.threads) as pool:
            ids = list(pool.map(lambda _: Client(url, tenant).submit_job(spec)["id"], range(args.jobs)))
        burst = wait_done(c, ids, 600)
        report("burst", burst, time.monotonic() - started)
    finally:
        for proc in (agent, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
