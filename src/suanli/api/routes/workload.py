"""The workload route: the network's ended jobs as a trace, for capacity planning (`suanli sim-export`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from suanli.api.deps import caller, plane
from suanli.api.schemas import Instant
from suanli.control import workload as workloads
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal

router = APIRouter(tags=["workload"])


@router.get("/workload", summary="Ended jobs as a trace for the simulator, oldest submission first")
def workload(
    since: Instant | None = None,
    until: Instant | None = None,
    cursor: str | None = None,
    limit: int = Query(1000, ge=1, le=10_000),
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return workloads.workload(tx, who, cp.clock(), since=since, until=until, cursor=cursor, limit=limit)
