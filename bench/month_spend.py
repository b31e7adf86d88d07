"""Month-spend benchmark: what a project's month of charges costs the paths that read its spend.

A hard-capped budget is asked about on every submit (`budgets.refuse_over_cap`), on every cycle
with the project's jobs pending (the snapshot's `budget` gate, `caps.cap_rooms`), and by the loop's
threshold check (`budgets.check`); each reads what the project has spent this month. With agents
metering in intervals (ADR 0033: a record per running attempt every five minutes by default), a
busy project posts tens of thousands of charges a month. This makes such a month through the real
paths (a priced site enrolled through the API; attempts placed by the loop; usage records charged
by agent syncs, `--per-sync` at a time), then times each reader on it.

Columns: charges posted this month, then milliseconds (median of `--repeat`) for the month's
spend (`caps.spent`), a project's cap room (`caps.cap_room`), the threshold check of every budget
(`budgets.check`), a refused submit over the cap (`POST /jobs`, 409), the org's statement of the
month (`GET /orgs/demo/statements`, JSON), the providers' settlement (`GET /settlements`, which
checks the site's usage sequence for gaps and repeats) and the month's usage by project with what
was charged (`GET /usage`), and one of the jobs with what it has been charged so far (`GET
/jobs/{id}`, its attempt metered a charge in every `ATTEMPTS`); then, once, the refund of that job
(`POST /jobs/{id}/refund`: every charge reversed) and the seconds it took to make the month (timing
included).
Run: `.venv/bin/python bench/month_spend.py [--charges 2000,20000] [--database-url URL]`; by default
a SQLite file in a scratch directory; `--database-url` takes an empty PostgreSQL database (one size
per run: create it afresh for each).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from suanli.api.app import create_app
from suanli.control import bootstrap, budgets, caps
from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.store import Database, sqlite_url

INTERVAL = 300  # seconds of run per usage record: the agent's default `--meter-every`
ATTEMPTS = 8  # one-GPU attempts running at once on the site's two 4-GPU nodes
POOL = {"name": "gpu", "accelerator": "A100", "accelerators_per_node": 4, "nodes": 2, "cpus_per_node": 32,
        "memory_mib_per_node": 262144}  # fmt: skip
PRICE = {
    "currency": "CNY",
    "tenant": {"accelerator_hour": "36.00"},
    "wholesale": {"accelerator_hour": "30.00"},
}
JOB = {"name": "train", "run": "python train.py", "resources": {"accelerators": "A100:1"}}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(url: str, data_dir: Path, charges: int, per_sync: int, repeat: int) -> tuple[int, list[float]]:
    db = Database(url)
    db.migrate()
    clock = Clock()
    cp = ControlPlane(db, Settings(data_dir=data_dir, lease_ttl=10**7, lease_grace=600), clock)
    first = bootstrap.ensure_demo(db, clock())
    assert first is not None, "the database is not fresh"
    op, tenant = first.operator_token, first.tenant_token
    with warnings.catch_warnings():  # Starlette's notice that its test client wants another httpx
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    with TestClient(create_app(cp, manage_plane=False)) as http:

        def call(method: str, path: str, token: str, **kw: Any) -> Any:
            return http.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}, **kw)

        def ok(method: str, path: str, token: str, **kw: Any) -> Any:
            resp = call(method, path, token, **kw)
            assert resp.status_code < 300, resp.text
            return resp.json()

        ok("POST", "/orgs", op, json={"name": "dc", "kind": "provider"})
        enroll = ok("POST", "/sites", op, json={"name": "dc1", "org": "dc"})["enrollment_token"]
        agent = ok("POST", "/agent/enroll", enroll, json={"site": "dc1"})["token"]
        ok("POST", "/agent/sync", agent, json={"pools": [POOL], "attempts": []})
        ok("POST", "/sites/dc1/pools/gpu/prices", op, json=PRICE)
        ok("POST", "/orgs/demo/projects/default/topups", op, json={"amount": "100000000.00"})
        for _ in range(ATTEMPTS):
            ok("POST", "/jobs", tenant, json={"spec": JOB})
        cp.loop.run_once()
        launches = ok("POST", "/agent/sync", agent, json={"attempts": []})["launch"]
        assert len(launches) == ATTEMPTS, launches
        began = clock()
        reports = [
            {"id": x["attempt_id"], "fencing_token": x["fencing_token"], "state": "RUNNING"} for x in launches
        ]
        ok("POST", "/agent/sync", agent, json={"attempts": reports})
        records = [
            {"seq": 1 + k, "attempt_id": x["attempt_id"],
             "started_at": (began + timedelta(seconds=INTERVAL * (k // ATTEMPTS))).isoformat(),
             "ended_at": (began + timedelta(seconds=INTERVAL * (k // ATTEMPTS + 1))).isoformat(),
             "accelerator_seconds": INTERVAL, "cpu_seconds": INTERVAL, "wall_seconds": INTERVAL}
            for k in range(charges) for x in [launches[k % ATTEMPTS]]
        ]  # fmt: skip
        assert clock() + timedelta(seconds=INTERVAL * (charges // ATTEMPTS + 1)) < datetime(
            2026, 12, 1, tzinfo=UTC
        ), "more charges than a month of these attempts holds"
        for i in range(0, charges, per_sync):
            batch = records[i : i + per_sync]
            clock.now = max(datetime.fromisoformat(r["ended_at"]) for r in batch)
            ok("POST", "/agent/sync", agent, json={"attempts": reports, "usage": batch})
        ok(
            "PUT",
            "/orgs/demo/projects/default/budget",
            op,
            json={"month": "*", "amount": "1.00", "hard_cap": True},
        )
        with db.read() as tx:
            project = tx.tenancy.project_by_name(tx.tenancy.org_by_name("demo").id, "default")  # type: ignore[union-attr]
            assert project is not None
            project_id = project.id
            posted = caps.spent(tx, project_id, "CNY", "2026-11")
            assert posted == charges * INTERVAL, posted  # 36.00 an hour is one fen a second
        refused = call("POST", "/jobs", tenant, json={"spec": JOB})
        assert refused.status_code == 409, refused.text

        def spent() -> None:
            with db.read() as tx:
                caps.spent(tx, project_id, "CNY", "2026-11")

        def room() -> None:
            with db.read() as tx:
                caps.cap_room(tx, project_id, clock())

        def check() -> None:
            with db.transaction() as tx:
                budgets.check(tx, clock())

        def submit() -> None:
            assert call("POST", "/jobs", tenant, json={"spec": JOB}).status_code == 409

        def statement() -> None:
            assert call("GET", "/orgs/demo/statements", op, params={"month": "2026-11"}).status_code == 200

        def settle() -> None:
            assert call("GET", "/settlements", op, params={"month": "2026-11"}).status_code == 200

        def used() -> None:
            params = {"by": "project", "since": "2026-11-01", "until": "2026-12-01"}
            [item] = ok("GET", "/usage", op, params=params)["items"]
            assert item["records"] == charges, item

        def job() -> None:
            [charged] = ok("GET", f"/jobs/{launches[0]['job_id']}", tenant)["charges"]
            assert charged["charged"] == f"{(charges + ATTEMPTS - 1) // ATTEMPTS * INTERVAL / 100:.2f} CNY", (
                charged
            )

        figures = [median_ms(f, repeat) for f in (spent, room, check, submit, statement, settle, used, job)]
        began_refund = time.perf_counter()  # once: a refund changes the month
        body = ok("POST", f"/jobs/{launches[0]['job_id']}/refund", op, json={"reason": "bench"})
        figures.append((time.perf_counter() - began_refund) * 1000)
        assert body["charges"] == (charges + ATTEMPTS - 1) // ATTEMPTS, body["totals"]
    db.close()
    return charges, figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--charges", default="2000,20000", help="charges in the month, a size per run: N,…")
    ap.add_argument("--per-sync", type=int, default=500, help="usage records per agent sync while making it")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database-url", help="default: SQLite in a scratch directory")
    args = ap.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"database: {'SQLite (scratch file)' if not args.database_url else args.database_url.split('@')[-1]}"
    )
    print(
        f"{'charges':>8} {'spent ms':>9} {'cap room ms':>12} {'check ms':>9} {'submit ms':>10} "
        f"{'statement ms':>13} {'settlement ms':>14} {'usage ms':>9} {'job ms':>7} {'refund ms':>10} {'made in s':>10}"
    )
    for size in (int(n) for n in args.charges.split(",")):
        with tempfile.TemporaryDirectory(prefix="suanli-bench-") as scratch:
            url = args.database_url or sqlite_url(Path(scratch))
            began = time.perf_counter()
            charges, (spent, room, check, submit, statement, settle, used, job, refund) = measure(
                url, Path(scratch), size, args.per_sync, args.repeat
            )
            made = time.perf_counter() - began
            print(
                f"{charges:>8} {spent:>9.1f} {room:>12.1f} {check:>9.1f} {submit:>10.1f} {statement:>13.1f} "
                f"{settle:>14.1f} {used:>9.1f} {job:>7.1f} {refund:>10.0f} {made:>10.0f}"
            )


if __name__ == "__main__":
    main()
