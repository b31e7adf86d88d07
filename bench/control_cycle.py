"""Control-loop benchmark: one scheduling cycle of the control plane on a database holding a queue.

`bench/schedule_cycle.py` times the scheduler alone on a snapshot in memory. This times what a
server does each cycle (`control/cycle.py`): read the snapshot from the database (pools, active
attempts, pending jobs, usage, quotas), plan (`scheduler.schedule`, with the loop's carry), and
apply the plan in one transaction (each placement re-checked against the pools' rows). The
network is made through the real paths: sites and pools through the API (enrollment, an agent's
first sync, a price per pool), five funded tenants, their jobs through `control.jobs.submit` (validation, the never-fits check), a
thousand per transaction. Making it is not timed.

Two cycles per size:
- **first**: the queue meets empty pools; about a third of the jobs are placed and applied.
- **next**: the same queue less what was placed, the pools full: nothing can be placed. This is
  what a loaded network pays on every wake-up (a submit, an agent's report, the interval).

Columns: pending jobs, pools, placed, then seconds of wall time for the whole cycle and for its
snapshot, plan and apply steps (the rest of a cycle is lease expiry, failover and the money duties).
Run: `.venv/bin/python bench/control_cycle.py [--sizes 1000x20,10000x100] [--database-url URL]`;
by default a SQLite file in a scratch directory; `--database-url` takes an empty PostgreSQL database
(one size per run: create it afresh for each).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from suanli.api.app import create_app
from suanli.control import bootstrap, cycle, jobs, snapshots
from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.store import Database, sqlite_url

TENANTS = ("astro", "bio", "climate", "nlp", "vision")
MODELS = ("A100", "H100", "V100")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Timed:
    """Wall seconds spent in a function the cycle calls, summed over the calls of one cycle."""

    def __init__(self, module: Any, name: str) -> None:
        self.module, self.name, self.seconds = module, name, 0.0
        self.original: Callable[..., Any] = getattr(module, name)

    def __enter__(self) -> Timed:
        def timed(*args: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return self.original(*args, **kw)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(self.module, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.module, self.name, self.original)


def job_document(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.8:
        count = rng.choice((1, 1, 2, 4, 8))
        first = rng.choice(MODELS)
        accelerators = [f"{first}:{count}"]
        if rng.random() < 0.25:
            accelerators.append(f"{rng.choice([m for m in MODELS if m != first])}:{count}")
        resources: dict[str, Any] = {
            "accelerators": accelerators,
            "cpus": count * rng.choice((4, 8)),
            "memory": f"{count * rng.choice((32, 64))}Gi",
        }
    else:
        resources = {"cpus": rng.choice((1, 2, 4, 8)), "memory": f"{rng.choice((2, 8, 16))}Gi"}
    resources["max_runtime"] = rng.choice(("1h", "4h", "24h"))
    return {"name": f"train-{rng.randrange(50)}", "run": "python train.py", "resources": resources}


def pool_offer(rng: random.Random, i: int) -> dict[str, Any]:
    nodes = rng.choice((1, 2, 4, 8))
    if rng.random() < 0.8:
        return {
            "name": f"gpu{i}",
            "accelerator": rng.choice(MODELS),
            "accelerators_per_node": 8,
            "nodes": nodes,
            "cpus_per_node": 96,
            "memory_mib_per_node": 1024 * 1024,
        }
    return {"name": f"cpu{i}", "nodes": nodes, "cpus_per_node": 64, "memory_mib_per_node": 256 * 1024}


@contextmanager
def network(url: str, data_dir: Path, pending: int, pools: int, seed: int) -> Iterator[ControlPlane]:
    """A control plane on a fresh database with `pools` pools over sites of ten and `pending` jobs
    of five tenants waiting."""
    db = Database(url)
    db.migrate()
    clock = Clock()
    cp = ControlPlane(db, Settings(data_dir=data_dir, lease_ttl=3600, lease_grace=600), clock)
    first = bootstrap.ensure_demo(db, clock())
    assert first is not None, "the database is not fresh"
    rng = random.Random(seed)
    with warnings.catch_warnings():  # Starlette's notice that its test client wants another httpx
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    with TestClient(create_app(cp, manage_plane=False)) as http:

        def ok(method: str, path: str, token: str, **kw: Any) -> Any:
            resp = http.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}, **kw)
            assert resp.status_code < 300, resp.text
            return resp.json()

        op = first.operator_token
        ok("POST", "/orgs", op, json={"name": "dc", "kind": "provider"})
        for s in range((pools + 9) // 10):
            enroll = ok("POST", "/sites", op, json={"name": f"site{s}", "org": "dc"})["enrollment_token"]
            agent = ok("POST", "/agent/enroll", enroll, json={"site": f"site{s}"})["token"]
            offers = [pool_offer(rng, i) for i in range(s * 10, min(pools, s * 10 + 10))]
            ok("POST", "/agent/sync", agent, json={"pools": offers, "attempts": []})
            for offer in offers:  # priced, so each placement holds its price × max_runtime
                price = f"{rng.randint(300, 3000) / 100:.2f}" if offer.get("accelerator") else "0.20"
                ok("POST", f"/sites/site{s}/pools/{offer['name']}/price", op, json={"price_per_hour": price})
        members = []
        for org in TENANTS:
            ok("POST", "/orgs", op, json={"name": org, "kind": "tenant"})
            ok("POST", f"/orgs/{org}/projects", op, json={"name": "default"})
            ok("POST", f"/orgs/{org}/members", op, json={"user": f"{org}-lead", "role": "owner"})
            token = ok("POST", "/tokens", op, json={"name": "t", "user": f"{org}-lead"})["token"]
            ok("POST", f"/orgs/{org}/projects/default/topups", op, json={"amount": "100000000.00"})
            members.append(cp.principal(token))
    done = 0
    while done < pending:
        batch = min(1000, pending - done)
        with db.transaction() as tx:
            for _ in range(batch):
                clock.now += timedelta(milliseconds=50)
                jobs.submit(tx, rng.choice(members), job_document(rng), clock(), 3600)
        done += batch
    clock.now += timedelta(seconds=5)
    try:
        yield cp
    finally:
        db.close()


def run_cycle(cp: ControlPlane) -> tuple[int, float, float, float, float]:
    with Timed(snapshots, "take") as take, Timed(cycle, "schedule") as plan, Timed(cycle, "apply") as apply:
        start = time.perf_counter()
        result = cp.loop.run_once()
        total = time.perf_counter() - start
    return result.placed, total, take.seconds, plan.seconds, apply.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000x20,10000x100", help="JOBSxPOOLS,…")
    ap.add_argument("--database-url", help="default: SQLite in a scratch directory")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"database: {'SQLite (scratch file)' if not args.database_url else args.database_url.split('@')[-1]}"
    )
    print(
        f"{'cycle':>6} {'jobs':>7} {'pools':>6} {'placed':>7} {'total s':>8} {'snapshot s':>11} {'plan s':>7} {'apply s':>8}"
    )
    for size in args.sizes.split(","):
        pending, pools = (int(n) for n in size.split("x"))
        with tempfile.TemporaryDirectory(prefix="suanli-bench-") as scratch:
            url = args.database_url or sqlite_url(Path(scratch))
            began = time.perf_counter()
            with network(url, Path(scratch), pending, pools, args.seed) as cp:
                made = time.perf_counter() - began
                for label in ("first", "next"):
                    placed, total, take, plan, apply = run_cycle(cp)
                    print(
                        f"{label:>6} {pending:>7} {pools:>6} {placed:>7} {total:>8.2f} {take:>11.2f}"
                        f" {plan:>7.2f} {apply:>8.2f}"
                    )
            print(f"        (making the network took {made:.0f} s)")


if __name__ == "__main__":
    main()
