"""Site routes: list and show sites with their pools; create, enroll-token, disable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import CreateSite, SetPrice, UpdateSite
from suanli.control import accounts, prices
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.control.views import site_views
from suanli.store import Tx

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("")
def list_sites(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {
            "items": site_views(tx, tx.sites.sites(), cp.clock(), cp.settings.lease_ttl),
            "next_cursor": None,
        }


@router.get("/{name}")
def get_site(
    name: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        site = accounts.site_for(tx, who, name)
        return site_views(tx, [site], cp.clock(), cp.settings.lease_ttl)[0]


@router.post("", status_code=201)
def create_site(body: CreateSite, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        now = m.cp.clock()
        site, token = accounts.create_site(tx, m.who, body.name, body.org, body.region or "", now)
        view = site_views(tx, [site], now, m.cp.settings.lease_ttl)[0]
        return 201, {"site": view, "enrollment_token": token}

    return m.run(change)


@router.post("/{name}/enrollment-tokens", status_code=201)
def new_enrollment_token(name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        site = accounts.site_for(tx, m.who, name, admin=True)
        return 201, {"site": site.name, "enrollment_token": accounts.enrollment_token(tx, site, m.cp.clock())}

    return m.run(change)


@router.post("/{name}/disable")
def disable_site(name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        site = accounts.site_for(tx, m.who, name, admin=True)
        site.disabled = True
        return 200, site_views(tx, [site], m.cp.clock(), m.cp.settings.lease_ttl)[0]

    return m.run(change)


@router.post("/{name}/enable")
def enable_site(name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        site = accounts.site_for(tx, m.who, name, admin=True)
        site.disabled = False
        return 200, site_views(tx, [site], m.cp.clock(), m.cp.settings.lease_ttl)[0]

    response = m.run(change)
    m.cp.poke(schedule=True)
    return response


@router.patch("/{name}", summary="Set a site's region and energy profile (PUE, grid carbon intensity)")
def update_site(name: str, body: UpdateSite, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        pue = None if body.pue is None else str(body.pue)
        site = accounts.update_site(
            tx,
            m.who,
            name,
            region=body.region,
            pue=pue,
            carbon_g_per_kwh=body.carbon_g_per_kwh,
            bandwidth_mbps=body.bandwidth_mbps,
        )
        return 200, site_views(tx, [site], m.cp.clock(), m.cp.settings.lease_ttl)[0]

    return m.run(change)


@router.post("/{name}/pools/{pool}/price", summary="Price a pool per accelerator-hour (CPU-hour)")
def set_price(name: str, pool: str, body: SetPrice, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        prices.price_pool(tx, m.who, name, pool, body.price_per_hour, m.cp.clock())
        site = accounts.site_for(tx, m.who, name)
        return 200, site_views(tx, [site], m.cp.clock(), m.cp.settings.lease_ttl)[0]

    response = m.run(change)
    m.cp.poke(schedule=True)
    return response
