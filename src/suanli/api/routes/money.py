"""Money routes: balances, top-ups, price books, voucher programmes, grants, vouchers and reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import CreateProgramme, GrantVoucher, Relate, SetPriceBook, TopUp
from suanli.control import money, voucher_report
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.store import Tx

router = APIRouter(tags=["money"])


@router.get("/orgs/{org}/balance", summary="Each project's balance, holds and available funds; live vouchers")
def balance(org: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        return money.balances(tx, who, org)


@router.post("/orgs/{org}/projects/{project}/topups", status_code=201, summary="Add funds (operators)")
def topup(org: str, project: str, body: TopUp, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, money.topup(tx, m.who, org, project, body.amount, body.transfer_id, m.cp.clock())

    return m.run(change)


@router.get("/prices", summary="Price book versions of every pool (or one site's)")
def list_prices(
    site: str | None = None, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": money.list_prices(tx, who, site, cp.clock()), "next_cursor": None}


@router.post(
    "/sites/{site}/pools/{pool}/prices", status_code=201, summary="Add a price book version (operators)"
)
def set_price(site: str, pool: str, body: SetPriceBook, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        view = money.set_price(
            tx,
            m.who,
            site,
            pool,
            currency=body.currency,
            tenant=body.tenant.model_dump(),
            wholesale=body.wholesale.model_dump(),
            minimum=body.minimum,
            effective_at=body.effective_at,
            now=m.cp.clock(),
        )
        return 201, view

    response = m.run(change)
    m.cp.poke(schedule=True)
    return response


@router.get("/voucher-programmes", summary="Voucher programmes (operators)")
def list_programmes(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": money.list_programmes(tx, who), "next_cursor": None}


@router.post("/voucher-programmes", status_code=201, summary="Create a voucher programme (operators)")
def create_programme(body: CreateProgramme, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, money.create_programme(tx, m.who, body.name, body.issuer, body.budget, m.cp.clock())

    return m.run(change)


@router.post("/voucher-programmes/{name}/vouchers", status_code=201, summary="Grant a voucher (operators)")
def grant(name: str, body: GrantVoucher, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        view = money.grant(
            tx,
            m.who,
            name,
            org_name=body.org,
            face=body.face,
            share=body.share,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            providers=body.providers,
            sites=body.sites,
            accelerators=body.accelerators,
            transfer_id=body.transfer_id,
            now=m.cp.clock(),
        )
        return 201, view

    return m.run(change)


@router.get("/voucher-programmes/{name}/report", summary="Issued, redeemed, expired, clawed back (operators)")
def programme_report(
    name: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return voucher_report.report(tx, who, name)


@router.get("/vouchers", summary="Vouchers: all (operators) or one org's (its owners, admins, finance)")
def list_vouchers(
    org: str | None = None, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": money.list_vouchers(tx, who, org), "next_cursor": None}


@router.post(
    "/provider-relations", status_code=201, summary="Declare a holder related to a provider (operators)"
)
def relate(body: Relate, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, money.relate(tx, m.who, body.org, body.provider, body.note, m.cp.clock())

    return m.run(change)
