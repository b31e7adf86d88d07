"""The network's own workload as a trace: the jobs that ran, for capacity planning with `suanli sim`.

Each job submitted in the window that has ended and ran at least once becomes one rigid job of the
simulator: submitted when it was, on the accelerators its last run held (per node × nodes), for as
long as that run took (a succeeded job's work; a failed or cancelled one's until it ended), with its
tenant (org), name, requested `max_runtime`, whether it may be stopped and resumed, and the models it
accepted at that size. Jobs that never ran, and jobs with no accelerators (the simulator replays GPU
pools), are counted, not listed. Callers see their own orgs' jobs; operators everyone's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from suanli.control.accounts import require_user
from suanli.control.errors import Invalid
from suanli.control.jobs import job_cursor
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.errors import FieldError
from suanli.domain.spec import parse_spec
from suanli.store import Tx
from suanli.store.tables import Attempt, Job

__all__ = ["DEFAULT_DAYS", "workload"]

DEFAULT_DAYS = 30  # the window when `since` is not given: the last 30 days before `until`


def workload(
    tx: Tx,
    who: Principal,
    now: datetime,
    *,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    require_user(who)
    until = until or now
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise Invalid("the window is empty", [FieldError("since", f"must be before until ({ts(until)})")])
    jobs = tx.jobs.ended_between(who.visible_orgs(), since, until, job_cursor(tx, who, cursor), limit + 1)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    runs = tx.jobs.last_runs(j.id for j in jobs)
    orgs = {o.id: o.name for o in tx.tenancy.orgs()}
    items, skipped = [], {"never_ran": 0, "no_accelerators": 0}
    for job in jobs:
        run = runs.get(job.id)
        if run is None:
            skipped["never_ran"] += 1
        elif not run.accelerators_per_node:
            skipped["no_accelerators"] += 1
        else:
            items.append(_item(job, run, orgs.get(job.org_id, job.org_id)))
    return {
        "since": ts(since),
        "until": ts(until),
        "items": items,
        "skipped": skipped,
        "next_cursor": jobs[-1].id if more and jobs else None,
    }


def _item(job: Job, run: Attempt, tenant: str) -> dict[str, Any]:
    spec = parse_spec(job.spec)
    nodes = max(1, len(run.nodes or ()))
    gpus = run.accelerators_per_node * nodes
    assert run.started_at is not None and run.ended_at is not None  # `last_runs` gives only such
    # The models the job accepted at the size it ran (a spec may offer A100:8 or H100:4).
    models = [o.model for o in spec.resources.accelerators if o.count * spec.resources.nodes == gpus]
    return {
        "job": job.id,
        "tenant": tenant,
        "name": job.name,
        "submitted_at": ts(job.created_at),
        "state": job.state,
        "duration_s": round(max(0.0, (run.ended_at - run.started_at).total_seconds()), 3),
        "gpus": gpus,
        "model": "|".join(models) or run.accelerator,
        "max_runtime_s": spec.resources.max_runtime_s,
        "preemptible": spec.evictable,
        "checkpoint_s": spec.checkpoint_interval_s,
    }
