"""Quote route: before submitting, every pool's price, energy, carbon and score for a job spec."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from suanli.api.deps import caller, plane
from suanli.api.schemas import Quote
from suanli.control import quotes
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal

router = APIRouter(tags=["jobs"])


@router.post("/quote", summary="Price and place a job spec without submitting it")
def quote(body: Quote, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        settings = cp.settings
        return quotes.quote(
            tx,
            who,
            body.spec,
            cp.clock(),
            settings.lease_ttl,
            settings.hold_without_max_runtime,
            cp.loop.held_back,
        )
