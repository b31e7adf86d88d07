"""Tenant-facing job operations: submit, cancel, and the reads, each with tenant isolation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control.budgets import refuse_over_cap
from suanli.control.errors import Conflict, Forbidden, Invalid, NotFound
from suanli.control.lifecycle import move_job, stop_job
from suanli.control.principal import Principal
from suanli.control.snapshots import pending_job, pool_views
from suanli.domain.errors import FieldError, SpecError
from suanli.domain.spec import PRIORITIES, JobSpec, parse_spec
from suanli.domain.states import JobState
from suanli.scheduler import never_fits
from suanli.store import Tx
from suanli.store.tables import Job, Org, Project

_LISTED = 10  # projects named when a spec names none the caller may submit to


def submit(tx: Tx, who: Principal, document: Any, now: datetime, lease_ttl: float) -> Job:
    """Validate, resolve the project, refuse what no pool could ever run, and commit as PENDING."""
    if who.kind != "user":
        raise Forbidden("only tenant members and operators submit jobs")
    try:
        spec = parse_spec(document)
    except SpecError as exc:
        raise Invalid("the job spec is invalid", exc.errors, code="invalid_spec") from None
    project = project_of(tx, who, spec)
    if not who.can_submit(project.org_id):
        raise Forbidden("your role in this org may not submit jobs (viewer or finance)")
    _check_priority(tx, project.org_id, spec)
    refuse_over_cap(tx, project, _org_name(tx, project.org_id), now)
    job = tx.jobs.add(
        org_id=project.org_id,
        project_id=project.id,
        user_id=who.user_id or "",
        name=spec.name,
        spec={**spec.to_dict(), "project": project.name},
        retries=spec.retries,
        now=now,
        priority=spec.priority_rank,
    )
    verdicts = never_fits(pending_job(job), pool_views(tx, now, lease_ttl))
    if verdicts is not None:
        raise Invalid(
            "no pool in the network could ever run this job",
            [FieldError(f"pool {v.pool}", v.reason) for v in verdicts],
            code="unsatisfiable",
        )
    tx.jobs.add_event(job.id, now, "submitted", f"submitted by {who.user_name}: {spec.resources.describe()}")
    return job


def _check_priority(tx: Tx, org_id: str, spec: JobSpec) -> None:
    """An org may use priority classes up to its quota's `max_priority` (`normal` without a quota)."""
    quota = tx.tenancy.quota(org_id)
    allowed = quota.max_priority if quota else "normal"
    if PRIORITIES[spec.priority] > PRIORITIES[allowed]:
        classes = ", ".join(c for c, rank in PRIORITIES.items() if rank <= PRIORITIES[allowed])
        raise Invalid(
            "priority class not allowed",
            [
                FieldError(
                    "priority", f"this org may use {classes}; an operator can allow more (suanli org quota)"
                )
            ],
            code="priority_not_allowed",
        )


def project_of(tx: Tx, who: Principal, spec: JobSpec) -> Project:
    """The project a spec names (`ORG/PROJECT` or a project of the caller's tenant orgs), or the
    caller's only project when it names none; `Invalid` naming `project` otherwise."""
    orgs = tx.tenancy.orgs(who.visible_orgs())
    tenant_orgs = [o for o in orgs if o.kind == "tenant"]
    ref = spec.project
    if ref and "/" in ref:
        org_name, _, name = ref.partition("/")
        candidates = [tx.tenancy.project_by_name(o.id, name) for o in orgs if o.name == org_name]
    elif ref:
        candidates = [tx.tenancy.project_by_name(o.id, ref) for o in tenant_orgs]
    else:
        candidates = [p for o in tenant_orgs for p in tx.tenancy.projects(o.id)]
    found = [p for p in candidates if p is not None and not p.disabled]
    if len(found) == 1:
        return found[0]
    if not found:
        what = f"no project {ref!r} you can submit to" if ref else "you belong to no project"
        raise Invalid(what, [FieldError("project", _submittable(tx, tenant_orgs))], code="unknown_project")
    names = ", ".join(sorted(f"{_org_name(tx, p.org_id)}/{p.name}" for p in found))
    raise Invalid(
        "project is ambiguous", [FieldError("project", f"choose one of: {names}")], code="ambiguous_project"
    )


def _submittable(tx: Tx, tenant_orgs: list[Org]) -> str:
    """The projects the caller may name (only their own orgs': nothing of others' is told); an
    operator, who sees every org, gets the first few."""
    names = sorted(
        f"{o.name}/{p.name}" for o in tenant_orgs for p in tx.tenancy.projects(o.id) if not p.disabled
    )
    if not names:
        return "name a project you are a member of (ORG/PROJECT)"
    more = f", … ({len(names)} in all)" if len(names) > _LISTED else ""
    return f"you can submit to: {', '.join(names[:_LISTED])}{more}"


def _org_name(tx: Tx, org_id: str) -> str:
    org = tx.tenancy.org(org_id)
    return org.name if org else org_id


def visible_job(tx: Tx, who: Principal, job_id: str, *, lock: bool = False) -> Job:
    if who.kind != "user":
        raise Forbidden("jobs are for tenant members and operators, not site tokens")
    job = tx.jobs.get(job_id, lock=lock)
    orgs = who.visible_orgs()
    if job is None or (orgs is not None and job.org_id not in orgs):
        raise NotFound(f"no job {job_id}")
    return job


def cancel(tx: Tx, who: Principal, job_id: str, now: datetime) -> tuple[Job, set[str]]:
    """Cancel a job; returns it and the sites whose agents must be told."""
    job = visible_job(tx, who, job_id, lock=True)
    if who.roles.get(job.org_id) == "viewer" and not who.operator:
        raise Forbidden("viewers cannot cancel jobs")
    state = JobState(job.state)
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        raise Conflict(f"job {job.id} already ended ({state.value})", code="job_ended")
    if state is JobState.CANCELLING:
        return job, set()
    if state is JobState.PENDING:
        move_job(tx, job, JobState.CANCELLED, now, f"cancelled by {who.user_name}")
        job.ended_at, job.reason = now, "cancelled"
        return job, set()
    return job, stop_job(tx, job, now, reason="cancelled", message=f"cancel requested by {who.user_name}")


def list_jobs(
    tx: Tx, who: Principal, *, states: list[str] | None, project: str | None, cursor: str | None, limit: int
) -> tuple[list[Job], str | None]:
    if who.kind != "user":
        raise Forbidden("agents do not list jobs")
    bad = [s for s in states or [] if s not in JobState.__members__]
    if bad:
        allowed = ", ".join(JobState.__members__)
        raise Invalid(f"unknown state {bad[0]!r}", [FieldError("state", f"allowed: {allowed}")])
    project_id = None
    if project:
        orgs = tx.tenancy.orgs(who.visible_orgs())
        org_name, _, name = project.rpartition("/")
        matches = [tx.tenancy.project_by_name(o.id, name) for o in orgs if not org_name or o.name == org_name]
        found = [p for p in matches if p is not None]
        if not found:  # only the caller's orgs are searched: this says nothing of others' projects
            raise NotFound(f"no project {project!r} in your orgs")
        if len(found) > 1:  # an operator, or a member of several orgs: the name alone is not enough
            names = {o.id: o.name for o in orgs}
            where = ", ".join(sorted(f"{names[p.org_id]}/{name}" for p in found))
            raise Invalid(
                f"project {name!r} is in several orgs",
                [FieldError("project", f"say which, as ORG/PROJECT: {where}")],
            )
        project_id = found[0].id
    before = job_cursor(tx, who, cursor)
    rows = tx.jobs.search(
        org_ids=who.visible_orgs(), states=states, project_id=project_id, before=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def job_cursor(tx: Tx, who: Principal, cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    job = tx.jobs.get(cursor)
    orgs = who.visible_orgs()
    # Another tenant's job id is as invalid as an unknown one: a cursor must not reveal what exists.
    if job is None or (orgs is not None and job.org_id not in orgs):
        raise Invalid("invalid cursor", [FieldError("cursor", "pass next_cursor from the previous page")])
    return job.created_at, job.id
