"""Monthly statements of a project or an org: per-job lines, totals by funding source, and each
project's opening and closing cash balance, all summed from the ledger's lines.

Who: operators, and the org's owners, admins and finance members.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanli.control.accounts import org_for
from suanli.control.charges import HoldMonth, hold_months, month_bounds
from suanli.control.errors import NotFound
from suanli.control.ledger import cpu_seconds_held
from suanli.control.money import money_view, require_finance
from suanli.control.principal import Principal
from suanli.control.statement_render import Balance, Funding, JobLine, Statement
from suanli.domain.billing import hours
from suanli.domain.ledger import TransferKind, arrears_account, balance_of, cash_account
from suanli.store import Tx
from suanli.store.tables import Project


def statement(tx: Tx, who: Principal, org_name: str, project_name: str | None, month: str) -> Statement:
    org = org_for(tx, who, org_name)
    require_finance(who, org)
    start, end = month_bounds(month)
    if project_name is None:
        projects = tx.tenancy.projects(org.id)
    else:
        found = tx.tenancy.project_by_name(org.id, project_name)
        if found is None:
            raise NotFound(f"no project {org_name}/{project_name}")
        projects = [found]
    names = {p.id: p.name for p in projects}
    lines = hold_months(tx, start, end, project_ids=list(names), usage=True)
    return Statement(
        org.name,
        project_name,
        month,
        tuple(_job_lines(tx, lines, names)),
        tuple(_funding(tx, lines)),
        tuple(b for p in projects for b in _balances(tx, p, lines, start, end)),
    )


@dataclass
class _Acc:
    amount: int = 0
    wall: int = 0
    accelerator: int = 0
    cpu: int = 0
    refunded: int = 0


def _job_lines(tx: Tx, lines: list[HoldMonth], project_names: dict[str, str]) -> list[JobLine]:
    """One line per job and place it ran (a retry elsewhere is a second line), net of refunds, with
    what refunds gave back of it this month beside it. CPU hours are what the attempt held (its
    CPUs × the wall time charged), as charged."""
    attempts = tx.jobs.attempts_by_ids(sorted({m.hold.attempt_id for m in lines if m.hold.attempt_id}))
    acc: dict[tuple[str, str, str, str, str], _Acc] = defaultdict(_Acc)
    for m in lines:
        h = m.hold
        a = acc[(h.project_id, h.job_id or h.id, h.site_id, h.pool_id, h.currency)]
        a.amount += m.net
        a.refunded -= m.refunds.charged  # a refund is a negative charge
        wall, accelerator, cpu = m.usage
        a.wall, a.accelerator = a.wall + wall, a.accelerator + accelerator
        a.cpu += cpu_seconds_held(attempts.get(h.attempt_id or ""), wall, cpu)
    jobs = tx.jobs.by_ids(key[1] for key in acc)
    sites = {s.id: s.name for s in tx.sites.sites()}
    pools = {p.id: p.name for p in tx.sites.pools(include_withdrawn=True)}
    out = []
    for (project_id, job_id, site_id, pool_id, cur), a in acc.items():
        job = jobs.get(job_id)
        out.append(
            JobLine(
                project_names.get(project_id, project_id),
                job_id,
                job.name if job else "",
                sites.get(site_id, site_id),
                pools.get(pool_id, pool_id),
                hours(a.wall),
                hours(a.accelerator),
                a.amount,
                cur,
                a.refunded,
                a.wall,
                a.accelerator,
                hours(a.cpu),
            )
        )
    return sorted(out, key=lambda line: (line.project, line.job, line.site, line.pool))


def _funding(tx: Tx, lines: list[HoldMonth]) -> list[Funding]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    names: dict[str, str] = {}
    for m in lines:
        for source, amount in m.tenant.items():
            name = names[source] = names.get(source) or _source(tx, source)
            sums[(name, m.hold.currency)] += amount
    return [Funding(s, v, cur) for (s, cur), v in sorted(sums.items()) if v]


def _source(tx: Tx, source: str) -> str:
    """`voucher:<id>` → `voucher:<programme name>`: statements total by programme."""
    if not source.startswith("voucher:"):
        return source
    voucher = tx.ledger.voucher(source.removeprefix("voucher:"))
    programme = tx.ledger.programme(voucher.programme_id) if voucher else None
    return f"voucher:{programme.name}" if programme else source


def _balances(
    tx: Tx, project: Project, lines: list[HoldMonth], start: datetime, end: datetime
) -> list[Balance]:
    currencies = {a.currency for a in tx.ledger.accounts(f"cash:{project.id}:")}
    currencies |= {m.hold.currency for m in lines if m.hold.project_id == project.id}
    out = []
    for cur in sorted(currencies):
        cash, arrears = cash_account(project.id, cur), arrears_account(project.id, cur)

        def at(account: str, when: datetime) -> int:
            return balance_of(account, tx.ledger.signed_sum_before(account, when))

        topups = tx.ledger.transfers_between(start, end, kinds=[TransferKind.TOPUP.value], refs=[project.id])
        topped = sum(-e.amount_minor for e in tx.ledger.entries(t.id for t in topups) if e.account_id == cash)
        spent = sum(
            m.tenant.get("cash", 0)
            for m in lines
            if m.hold.project_id == project.id and m.hold.currency == cur
        )
        out.append(
            Balance(
                project.name,
                cur,
                at(cash, start),
                topped,
                spent,
                at(cash, end),
                at(arrears, start),
                at(arrears, end),
            )
        )
    return out


def view(st: Statement) -> dict[str, Any]:
    """The statement as the API's JSON."""
    return {
        "org": st.org,
        "project": st.project,
        "month": st.month,
        "lines": [
            {
                "project": line.project,
                "job": line.job,
                "name": line.name,
                "site": line.site,
                "pool": line.pool,
                "hours": line.hours,
                "accelerator_hours": line.accelerator_hours,
                "cpu_hours": line.cpu_hours,
                "seconds": line.seconds,
                "accelerator_seconds": line.accelerator_seconds,
                "amount": money_view(line.amount, line.currency),
                "refunded": money_view(line.refunded, line.currency),
            }
            for line in st.lines
        ],
        "funding": [{"source": f.source, "amount": money_view(f.amount, f.currency)} for f in st.funding],
        "totals": [money_view(v, c) for c, v in sorted(st.totals().items())],
        "balances": [
            {
                "project": b.project,
                "currency": b.currency,
                "opening": money_view(b.opening, b.currency),
                "topups": money_view(b.topups, b.currency),
                "cash_charged": money_view(b.cash_charged, b.currency),
                "closing": money_view(b.closing, b.currency),
                "arrears_opening": money_view(b.arrears_opening, b.currency),
                "arrears_closing": money_view(b.arrears_closing, b.currency),
                "reconciles": b.reconciles,
            }
            for b in st.balances
        ],
    }
