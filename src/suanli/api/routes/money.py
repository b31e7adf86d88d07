"""Money routes: balances, top-ups, price books, voucher programmes, grants, vouchers and reports;
statements, settlement, usage, budgets, credit limits and the audit trail."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import (
    CreateProgramme,
    GrantVoucher,
    Instant,
    Payout,
    Refund,
    Relate,
    SetBudget,
    SetCreditLimit,
    SetPriceBook,
    TopUp,
)
from suanli.control import (
    audit,
    budgets,
    charges,
    ledger_check,
    money,
    prices,
    settlement,
    statements,
    usage_views,
    voucher_report,
    vouchers,
)
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.control.statement_render import statement_csv, statement_html, to_csv
from suanli.domain.billing import month_of
from suanli.store import Tx

router = APIRouter(tags=["money"])


@router.get("/orgs/{org}/balance", summary="Each project's balance, holds and available funds; live vouchers")
def balance(org: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        return money.balances(tx, who, org)


@router.post("/orgs/{org}/projects/{project}/topups", status_code=201, summary="Add funds (operators)")
def topup(org: str, project: str, body: TopUp, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, money.topup(
            tx, m.who, org, project, body.amount, body.transfer_id, m.cp.clock(), body.reason
        )

    return m.run(change, audited=False)  # recorded by the money operation itself, with amount and reason


@router.post("/orgs/{org}/payouts", status_code=201, summary="Record a payment to a provider (operators)")
def payout(org: str, body: Payout, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, money.payout(tx, m.who, org, body.amount, body.transfer_id, m.cp.clock(), body.reason)

    return m.run(change, audited=False)  # recorded by the money operation itself, with amount and reason


@router.get("/prices", summary="Price book versions of every pool (or one site's)")
def list_prices(
    site: str | None = None, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": prices.list_prices(tx, who, site, cp.clock()), "next_cursor": None}


@router.post(
    "/sites/{site}/pools/{pool}/prices", status_code=201, summary="Add a price book version (operators)"
)
def set_price(site: str, pool: str, body: SetPriceBook, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        view = prices.set_price(
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
        return {"items": vouchers.list_programmes(tx, who), "next_cursor": None}


@router.post("/voucher-programmes", status_code=201, summary="Create a voucher programme (operators)")
def create_programme(body: CreateProgramme, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, vouchers.create_programme(tx, m.who, body.name, body.issuer, body.budget, m.cp.clock())

    return m.run(change)


@router.post("/voucher-programmes/{name}/vouchers", status_code=201, summary="Grant a voucher (operators)")
def grant(name: str, body: GrantVoucher, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        view = vouchers.grant(
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


@router.get(
    "/voucher-programmes/{name}/report",
    summary="Issued, redeemed, restored, expired, clawed back (operators)",
)
def programme_report(
    name: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return voucher_report.report(tx, who, name)


@router.get("/ledger/check", summary="The ledger's durable truths checked on the database (operators)")
def check_ledger(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        return ledger_check.check(tx, who)


@router.get("/vouchers", summary="Vouchers: all (operators) or one org's (its owners, admins, finance)")
def list_vouchers(
    org: str | None = None, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": vouchers.list_vouchers(tx, who, org), "next_cursor": None}


@router.post(
    "/provider-relations", status_code=201, summary="Declare a holder related to a provider (operators)"
)
def relate(body: Relate, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 201, vouchers.relate(tx, m.who, body.org, body.provider, body.note, m.cp.clock())

    return m.run(change)


# --- statements, settlement, usage, budgets, credit limits, audit --------------------------------

_FORMATS = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}
# A statement page may style itself and nothing else: no scripts, no fetches, no frames.
_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _month(cp: ControlPlane, month: str | None) -> str:
    return month or month_of(cp.clock())


def _reported(cp: ControlPlane, month: str | None) -> str:
    """The month a statement or settlement reports: this one unless given; never a later one."""
    now = cp.clock()
    return month_of(now) if month is None else charges.reported_month(month, now)


def _document(text: str, fmt: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{filename}.{fmt}"'}
    if fmt == "html":
        headers["Content-Security-Policy"] = _HTML_POLICY
    return Response(text, media_type=_FORMATS[fmt], headers=headers)


@router.get("/orgs/{org}/statements", summary="A month's statement of an org or one project (finance)")
def statement(
    org: str,
    month: str | None = None,
    project: str | None = None,
    format: Literal["json", "csv", "html"] = "json",
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> Any:
    with cp.db.read() as tx:
        st = statements.statement(tx, who, org, project, _reported(cp, month))
    if format == "json":
        return statements.view(st)
    name = f"statement-{st.org}{'-' + st.project if st.project else ''}-{st.month}"
    text = statement_csv(st) if format == "csv" else statement_html(st)
    return _document(text, format, name)


@router.get("/settlements", summary="Providers' payables for a month, reconciled with usage (finance)")
def settlements(
    provider: str | None = None,
    month: str | None = None,
    format: Literal["json", "csv"] = "json",
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> Any:
    with cp.db.read() as tx:
        view = settlement.settlement(tx, who, provider=provider, month=_reported(cp, month))
    if format == "json":
        return view
    text = to_csv(settlement.rows(view), settlement.COLUMNS)
    return _document(text, "csv", f"settlement-{provider or 'all'}-{view['month']}")


@router.get("/usage", summary="Compute-hours and charges grouped by project, site, user or month")
def usage(
    by: str = "project",
    org: str | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return usage_views.usage(tx, who, by=by, org=org, since=since, until=until)


@router.get("/orgs/{org}/projects/{project}/budget", summary="The budget in force, spend, events (finance)")
def get_budget(
    org: str,
    project: str,
    month: str | None = None,
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return budgets.show(tx, who, org, project, _month(cp, month))


@router.put("/orgs/{org}/projects/{project}/budget", summary="Set a month's (or every month's) budget")
def set_budget(org: str, project: str, body: SetBudget, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        view = budgets.set_budget(
            tx,
            m.who,
            org,
            project,
            month=body.month,
            amount=body.amount,
            thresholds=body.thresholds,
            hard_cap=body.hard_cap,
            reason=body.reason,
            now=m.cp.clock(),
        )
        return 200, view

    return m.run(change, audited=False)  # recorded by the money operation itself, with amount and reason


@router.post("/jobs/{job_id}/refund", summary="Refund a job's charges (operators)")
def refund_job(job_id: str, body: Refund, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 200, money.refund_job(tx, m.who, job_id, body.reason, m.cp.clock(), body.attempt)

    return m.run(change, audited=False)  # recorded by the money operation itself, with amount and reason


@router.put("/orgs/{org}/projects/{project}/credit-limit", summary="Set a project's credit limit (operators)")
def set_credit_limit(
    org: str, project: str, body: SetCreditLimit, m: Mutation = Depends(mutation)
) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 200, money.set_credit_limit(tx, m.who, org, project, body.limit, body.reason, m.cp.clock())

    response = m.run(change, audited=False)  # recorded by the money operation itself, with amount and reason
    m.cp.poke(schedule=True)  # jobs waiting for funds may fit now
    return response


@router.get(
    "/audit",
    summary="Audit trail of every change people made: all (operators) or one org's (owners, admins, finance)",
)
def audit_trail(
    org: str | None = None,
    action: str | None = Query(
        None, description=f"Only this action, one of: {', '.join(sorted(audit.ACTIONS))}"
    ),
    cp: ControlPlane = Depends(plane),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    with cp.db.read() as tx:
        return {"items": money.audit_events(tx, who, org=org, action=action), "next_cursor": None}
