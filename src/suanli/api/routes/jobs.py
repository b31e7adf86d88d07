"""Job routes: submit, list, get, cancel, events, logs (with follow)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import SubmitJob
from suanli.control import jobs, quotes, snapshots
from suanli.control.errors import Invalid
from suanli.control.lifecycle import last_preemption
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.control.signals import job_topic
from suanli.control.views import job_summary, job_view, pool_holders, ts, with_org_names
from suanli.domain.errors import FieldError
from suanli.domain.states import ATTEMPT_TERMINAL, JOB_TERMINAL, AttemptState, JobState
from suanli.store import Tx
from suanli.store.jobs import AttemptLog
from suanli.store.tables import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])
HOLDERS_OF = 3  # `why` says what runs on this many of the best pools a waiting job does not fit now


@router.post("", status_code=201, summary="Submit a job")
def submit(body: SubmitJob, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        now, settings = m.cp.clock(), m.cp.settings
        job = jobs.submit(tx, m.who, body.spec, now, settings.lease_ttl)
        view = job_view(tx, job)
        note = quotes.funding_note(tx, job, now, settings.lease_ttl, settings.hold_without_max_runtime)
        return 201, {**view, "warnings": [note]} if note else view

    response = m.run(change, audited=False)  # submissions are use, not administration: job events keep them
    m.cp.poke(schedule=True)
    return response


@router.get("", summary="List jobs, newest first")
def list_jobs(
    state: list[str] | None = Query(None),
    project: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    states = [s.upper() for v in state or [] for s in v.split(",") if s]
    with cp.db.read() as tx:
        rows, nxt = jobs.list_jobs(tx, who, states=states, project=project, cursor=cursor, limit=limit)
        orgs = {o.id: o.name for o in tx.tenancy.orgs()}
        projects = {p.id: p.name for o in orgs for p in tx.tenancy.projects(o)} if rows else {}
        return {"items": [job_summary(tx, j, orgs, projects) for j in rows], "next_cursor": nxt}


@router.get("/{job_id}", summary="One job with its attempts")
def get_job(
    job_id: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        job = jobs.visible_job(tx, who, job_id)
        waiting = None
        if job.state == JobState.PENDING.value:
            waiting = [
                {"pool": v.pool, "code": v.code.value, "reason": v.reason}
                for v in cp.loop.waiting.get(job.id, ())
            ]
        return job_view(tx, job, waiting=waiting)


@router.get("/{job_id}/why", summary="Why a job waits, or where it went and why")
def why(job_id: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    cp.loop.observe()  # a standby works out its own view of the queue (the leader has its last cycle's)
    with cp.db.read() as tx:
        job = jobs.visible_job(tx, who, job_id)
        events = tx.jobs.events(job.id)
        placed = [e.message for e in events if e.kind == "assigned"]
        stopped = last_preemption(events)
        view = job_view(tx, job)
        candidates = []
        if job.state == JobState.PENDING.value:
            candidates = [
                {
                    "pool": c.pool,
                    "fits": c.fits,
                    "code": c.code.value,
                    "reason": c.reason,
                    "score": c.score,
                    "scores": dict(c.scores),
                }
                for c in snapshots.candidates_for(tx, job, cp.clock(), cp.settings.lease_ttl)
            ]
        held = [
            {"pool": v.pool, "code": v.code.value, "reason": v.reason}
            for v in cp.loop.waiting.get(job.id, ())
            if v.pool.startswith("(") or "reserved" in v.reason
        ]
        busy = [str(c["pool"]) for c in candidates if c["code"] == "unschedulable"][:HOLDERS_OF]
        holding = (
            pool_holders(tx, who, busy, cp.clock()) if busy and not any(c["fits"] for c in candidates) else []
        )
        reservation = cp.loop.reservations.get(job.id) if job.state == JobState.PENDING.value else None
        return {
            "queue": with_org_names(tx, cp.loop.queue_note(job.id))
            if job.state == JobState.PENDING.value
            else None,
            "id": job.id,
            "state": job.state,
            "site": view["site"],
            "pool": view["pool"],
            "placements": placed,
            "candidates": candidates,
            "blocked": held,  # the last cycle's gates (quota, funds) and reservations held for others
            "holding": holding,  # what runs on the best pools it does not fit now
            "reservation": None
            if reservation is None
            else {
                "pool": reservation.pool,
                "starts_at": ts(reservation.at) if reservation.at else None,
                "preempting": len(reservation.preempting),
                "claim": reservation.claim,
            },
            "preemptions": job.preemptions,
            # the last time one of its attempts was told to stop for another job, and why
            "last_preemption": None
            if stopped is None
            else {"at": ts(stopped.at), "message": stopped.message},
        }


@router.post("/{job_id}/cancel", status_code=202, summary="Cancel a job")
def cancel(job_id: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    sites: set[str] = set()

    def change(tx: Tx) -> tuple[int, Any]:
        job, told = jobs.cancel(tx, m.who, job_id, m.cp.clock())
        sites.update(told)
        return 202, job_view(tx, job)

    response = m.run(change)
    m.cp.poke(schedule=True, sites=sites, jobs=[job_id])
    return response


@router.get("/{job_id}/events", summary="A job's events, oldest first")
def events(
    job_id: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        job = jobs.visible_job(tx, who, job_id)
        return {
            "items": [{"at": ts(e.at), "kind": e.kind, "message": e.message} for e in tx.jobs.events(job.id)]
        }


@router.get("/{job_id}/logs", summary="A job's output from a byte offset; follow waits for more")
async def logs(
    job_id: str,
    offset: int = Query(0, ge=0, le=2**63 - 1),
    follow: bool = False,
    wait: float = Query(20.0, ge=0, le=60),
    attempt: int | None = Query(None, ge=1, le=2**31 - 1),
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    def read() -> tuple[str, int, bool, list[AttemptLog]]:
        with cp.db.read() as tx:
            job = jobs.visible_job(tx, who, job_id)
            spans = tx.jobs.attempt_logs(job.id)
            data, end = tx.jobs.read_log(job.id, offset, attempt=attempt)
            if attempt is None:
                return data, end, JobState(job.state) in JOB_TERMINAL and end >= job.log_bytes, spans
            return data, end, _attempt_read_out(tx, job, attempt, end, spans), spans

    topic = job_topic(job_id)
    seen = cp.signals.version(topic)
    data, end, complete, spans = await run_in_threadpool(read)
    if follow and not data and not complete:
        await cp.signals.wait_async(topic, seen, wait)
        data, end, complete, spans = await run_in_threadpool(read)
    return {
        "data": data,
        "offset": offset,
        "next_offset": max(end, offset),
        "complete": complete,
        "attempts": [{"number": s.number, "offset": s.offset, "site": s.site, "pool": s.pool} for s in spans],
    }


def _attempt_read_out(tx: Tx, job: Job, number: int, end: int, spans: list[AttemptLog]) -> bool:
    """Whether a read of attempt `number` up to `end` has all of it: the attempt has ended (so it
    writes no more) and nothing of its output lies past `end`. A job retried or requeued is not
    terminal, yet each attempt of it that ended is complete."""
    found = {a.number: a for a in tx.jobs.attempts(job.id)}
    row = found.get(number)
    if row is None:
        have = ", ".join(str(n) for n in sorted(found)) or "none yet"
        raise Invalid(
            f"job {job.id} has no attempt {number}; its attempts: {have}",
            [FieldError("attempt", f"one of the job's attempts: {have}")],
            code="unknown_attempt",
        )
    ended = AttemptState(row.state) in ATTEMPT_TERMINAL or JobState(job.state) in JOB_TERMINAL
    written = next((s.end for s in spans if s.number == number), 0)
    return ended and end >= written
