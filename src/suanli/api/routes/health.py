"""Health and metrics: `/healthz` for load balancers, `/metrics` for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from suanli import __version__
from suanli.api.deps import plane
from suanli.control.plane import ControlPlane
from suanli.domain.states import JobState
from suanli.store import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(cp: ControlPlane = Depends(plane)) -> Any:
    try:
        cp.db.ping()
    except Unavailable as exc:
        return JSONResponse(
            {"status": "degraded", "database": str(exc), "version": __version__}, status_code=503
        )
    role = "leading" if cp.loop.leading else "standby"  # ADR 0020: one server schedules
    return {"status": "ok", "database": "ok", "scheduler": role, "version": __version__}


JOBS = Gauge("suanli_jobs", "Jobs by state", ["state"])


@router.get("/metrics")
def metrics(cp: ControlPlane = Depends(plane)) -> Response:
    with cp.db.read() as tx:
        counts = tx.jobs.count_by_state()
    for state in JobState:
        JOBS.labels(state.value).set(counts.get(state.value, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
