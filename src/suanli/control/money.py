"""Money operations for people: balances, top-ups, payouts, credit limits, refunds, the audit trail.

Who may do what: operators do everything; an org's owner, admin or finance member sees its own
balances. Top-ups, payouts, credit limits and refunds are operators'. Price books are
`prices.py`'s, vouchers `vouchers.py`'s. Each function runs inside the caller's transaction and
returns plain JSON-ready dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control import audit, holds, ledger
from suanli.control.accounts import org_for, require_operator
from suanli.control.errors import Forbidden, Invalid, NotFound
from suanli.control.principal import Principal
from suanli.domain.errors import FieldError
from suanli.domain.ledger import AccountKind, account_kind, cash_account
from suanli.domain.money import AMOUNT_EXAMPLE, DEFAULT_CURRENCY, AmountTooLarge, Money, parse_money
from suanli.store import Tx
from suanli.store.ids import new_id
from suanli.store.tables import Org, Project

MONEY_ROLES = ("owner", "admin", "finance")


def require_finance(who: Principal, org: Org) -> None:
    if not (who.operator or who.roles.get(org.id) in MONEY_ROLES):
        raise Forbidden(f"only {org.name}'s owners, admins and finance members (or operators) see its money")


def read_amount(
    field: str, text: str, currency: str | None = None, *, what: str, positive: bool = False
) -> Money:
    """`text` as Money. A negative amount (zero too, where `positive`) is read and then refused by
    this rule, naming `what` it is ("a top-up is positive"), rather than as text that is no amount.
    A minus sign is refused on zero too: "-0" is more likely a mistyped amount than a zero."""
    try:
        money = parse_money(text, currency, signed=True)
    except AmountTooLarge as exc:
        raise Invalid(str(exc), [FieldError(field, f"at most {exc.largest}")]) from None
    except ValueError as exc:
        raise Invalid(str(exc), [FieldError(field, f"an amount such as {AMOUNT_EXAMPLE}")]) from None
    if money.minor < 0 or (positive and money.minor == 0):
        rule, least = ("positive", "more than zero") if positive else ("never negative", "zero or more")
        raise Invalid(f"{what} is {rule}", [FieldError(field, f"{least}, such as {AMOUNT_EXAMPLE}")])
    if text.strip().startswith("-"):
        raise Invalid(
            f"{what} has no sign",
            [FieldError(field, f"zero written as 0, or an amount such as {AMOUNT_EXAMPLE}")],
        )
    return money


def money_view(minor: int, currency: str) -> dict[str, Any]:
    return {"minor": minor, "currency": currency, "text": str(Money(minor, currency))}


# --- balances and top-ups -----------------------------------------------------------------------


def balances(tx: Tx, who: Principal, org_name: str) -> dict[str, Any]:
    org = org_for(tx, who, org_name)
    require_finance(who, org)
    rows = []
    for project in tx.tenancy.projects(org.id):
        currencies = {a.currency for a in tx.ledger.accounts(f"cash:{project.id}:")} or {DEFAULT_CURRENCY}
        found = {cur: holds.funds(tx, project.id, cur) for cur in sorted(currencies)}
        # an account opened at zero for a placement in a currency it never used says nothing
        used = {
            c: f for c, f in found.items() if (f.balance, f.credit_limit, f.held, f.arrears) != (0, 0, 0, 0)
        }
        if not used:
            cur = DEFAULT_CURRENCY if DEFAULT_CURRENCY in found else next(iter(found))
            used = {cur: found[cur]}
        for cur, f in used.items():
            rows.append(
                {
                    "project": project.name,
                    "currency": cur,
                    "balance": money_view(f.balance, cur),
                    "credit_limit": money_view(f.credit_limit, cur),
                    "held": money_view(f.held, cur),
                    # what its open holds still expect its org's vouchers to pay (not cash: not in `held`)
                    "held_on_vouchers": money_view(
                        sum(holds.voucher_reserved(h) for h in tx.ledger.open_holds(project.id, cur)), cur
                    ),
                    "available": money_view(f.available, cur),
                    "arrears": money_view(f.arrears, cur),
                }
            )
    from suanli.control.vouchers import voucher_view  # (vouchers.py builds on this module)

    vouchers = [voucher_view(tx, v) for v in tx.ledger.vouchers(org_id=org.id, live=True)]
    return {"org": org.name, "projects": rows, "vouchers": vouchers}


def _project(tx: Tx, who: Principal, org_name: str, project_name: str) -> tuple[Org, Project]:
    org = org_for(tx, who, org_name)
    project = tx.tenancy.project_by_name(org.id, project_name)
    if project is None:
        raise NotFound(f"no project {org_name}/{project_name}")
    return org, project


def payout(
    tx: Tx,
    who: Principal,
    provider: str,
    amount: str,
    transfer_id: str | None,
    now: datetime,
    reason: str,
) -> dict[str, Any]:
    """Record money paid to a provider (operators): what it is owed goes down by it, never below 0.
    The payment itself (a bank transfer) happens outside; `reason` keeps its reference."""
    require_operator(who)
    org = tx.tenancy.org_by_name(provider)
    if org is None:
        raise NotFound(f"no provider org {provider!r}")
    if org.kind != "provider":
        raise Invalid(f"org {provider!r} is a tenant", [FieldError("org", "payouts go to provider orgs")])
    money = read_amount("amount", amount, what="a payout", positive=True)
    tid = transfer_id or new_id("pay")
    replay = tx.ledger.transfer(tid) is not None
    row = ledger.payout(tx, tid, org.id, money.minor, money.currency, now, who.key)
    if not replay:  # a replayed transfer id was audited when it was first posted
        audit.record(
            tx, who, "payout", org.id, f"/orgs/{org.name}/payouts", now,
            amount=money, reason=reason, detail={"transfer": row.id},
        )  # fmt: skip
    left = ledger.owed(tx, org.id).get(money.currency, 0)
    return {
        "transfer": row.id,
        "provider": org.name,
        "amount": money_view(money.minor, money.currency),
        "owed": money_view(left, money.currency),
    }


def topup(
    tx: Tx,
    who: Principal,
    org_name: str,
    project_name: str,
    amount: str,
    transfer_id: str | None,
    now: datetime,
    reason: str = "",
) -> dict[str, Any]:
    """Add funds to a project (operators); an audit record keeps who, when, how much and why."""
    require_operator(who)
    org, project = _project(tx, who, org_name, project_name)
    money = read_amount("amount", amount, what="a top-up", positive=True)
    refuse_unused_currency(tx, project, money.currency)
    tid = transfer_id or new_id("top")
    replay = tx.ledger.transfer(tid) is not None
    row = ledger.topup(tx, tid, project.id, money.minor, money.currency, now, who.key)
    if not replay:  # a replayed transfer id was audited when it was first posted
        audit.record(
            tx, who, "topup", org.id, f"/orgs/{org.name}/projects/{project.name}/topups", now,
            amount=money, reason=reason, detail={"transfer": row.id},
        )  # fmt: skip
    f = holds.funds(tx, project.id, money.currency)
    return {
        "transfer": row.id,
        "project": project.name,
        "amount": money_view(money.minor, money.currency),
        "balance": money_view(f.balance, money.currency),
        "available": money_view(f.available, money.currency),
    }


def refuse_unused_currency(tx: Tx, project: Project, currency: str, field: str = "amount") -> None:
    """Funds in a currency no pool charges could never be spent (holds and charges are in the
    pool's currency): refuse them, unless the project already has a balance in that currency or
    the network prices nothing yet (then the default currency rule stands). A credit limit or a
    budget in such a currency would never apply: refused the same way, naming `field`."""
    if tx.ledger.account(cash_account(project.id, currency)):
        return
    refuse_currency_no_pool_charges(tx, currency, field)


def refuse_currency_no_pool_charges(tx: Tx, currency: str, field: str, example: str = "1000.00") -> None:
    """Money in a currency no pool charges could pay for nothing; none priced yet: any stands."""
    used = tx.ledger.price_currencies()
    if not used or currency in used:
        return
    names = ", ".join(sorted(used))
    raise Invalid(
        f"no pool on this network charges {currency}",
        [FieldError(field, f"pools charge {names}: e.g. '{example} {min(used)}'")],
        code="currency_not_used",
    )


def refund_job(
    tx: Tx, who: Principal, job_id: str, reason: str, now: datetime, attempt: int | None = None
) -> dict[str, Any]:
    """Refund every charge of a job (or of one of its attempts) not refunded yet (operators): each
    is reversed in full, each source paid back (cash to the project, voucher parts to their vouchers,
    or to their programmes where a voucher is no longer valid, ADR 0041), the provider's payable and
    the platform's margin reversed. Asking again refunds nothing more; the audit trail keeps who,
    when, how much and why."""
    require_operator(who)
    job = tx.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if not reason.strip():
        raise Invalid(
            "say why the job is refunded", [FieldError("reason", "a few words, kept in the audit trail")]
        )
    attempts = tx.jobs.attempts(job.id)
    if attempt is not None:
        attempts = [a for a in attempts if a.number == attempt]
        if not attempts:
            numbers = ", ".join(str(a.number) for a in tx.jobs.attempts(job.id)) or "none yet"
            raise Invalid(
                f"job {job.id} has no attempt {attempt}", [FieldError("attempt", f"its attempts: {numbers}")]
            )
    holds = [f"hold:{a.id}" for a in attempts]
    charges = tx.ledger.transfers(kinds=["charge"], refs=holds) if holds else []
    done = (
        {t.ref for t in tx.ledger.transfers(kinds=["refund"], refs=[c.id for c in charges])}
        if charges
        else set()
    )
    todo = [c.id for c in charges if c.id not in done]
    hold_of = {c.id: c.ref for c in charges}
    held = tx.ledger.holds({hold_of[c] for c in todo})
    providers = {h.provider_org_id for h in held}
    currency_of = {h.id: h.currency for h in held}  # a charge that cost nothing has no entries
    posted = ledger.refund_many(tx, todo, now, who.key)  # one pass, however many charges
    number_of = {f"hold:{a.id}": a.number for a in attempts}
    per_attempt: dict[tuple[int, str], list[int]] = {}  # (attempt, currency) → [charges, amount]
    totals: dict[str, int] = {}
    went: dict[str, dict[str, int]] = {}  # per currency: back to cash, to vouchers, …
    for refund in posted:
        assert refund.ref is not None
        currency = currency_of.get(hold_of[refund.ref], DEFAULT_CURRENCY)
        amount = 0  # what the charge debited its funding sources, each now credited back
        split = went.setdefault(currency, dict.fromkeys(_WENT.values(), 0))
        for e in refund.entries:
            key = _WENT.get(account_kind(e.account))
            if key is not None:
                split[key] -= e.amount
                amount -= e.amount
        totals[currency] = totals.get(currency, 0) + amount
        line = per_attempt.setdefault((number_of[hold_of[refund.ref]], currency), [0, 0])
        line[0] += 1
        line[1] += amount
    refunded = [
        {"attempt": n, "charges": count, "amount": money_view(amount, currency)}
        for (n, currency), (count, amount) in sorted(per_attempt.items())
    ]  # a line per attempt, not per charge: a month-long attempt is metered in thousands (ADR 0033)
    for currency, amount in totals.items():
        audit.record(
            tx, who, "refund", job.org_id, f"/jobs/{job.id}/refund", now,
            amount=Money(amount, currency), reason=reason,
            detail={"charges": len(todo), **({"attempt": attempt} if attempt is not None else {})},
        )  # fmt: skip
    return {
        "job": job.id,
        "attempt": attempt,
        "charges": len(todo),
        "refunded": refunded,
        "warnings": _paid_out_already(tx, providers),
        "totals": [money_view(v, c) for c, v in sorted(totals.items())],
        # of the totals: back to the project's cash, to the tenant's vouchers, clawed back to voucher
        # programmes (vouchers no longer valid), arrears forgiven
        **{
            key: [money_view(w[key], c) for c, w in sorted(went.items())]
            for key in ("to_cash", "to_vouchers", "clawed_back", "arrears_forgiven")
        },
    }


_WENT = {
    AccountKind.CASH: "to_cash",
    AccountKind.VOUCHER: "to_vouchers",
    AccountKind.PROGRAMME: "clawed_back",
    AccountKind.ARREARS: "arrears_forgiven",
}


def _paid_out_already(tx: Tx, provider_org_ids: set[str]) -> list[str]:
    """A refund reverses the provider's payable; where payouts had already paid it, the provider
    now owes that back (its payable below zero), netted against what it earns next."""
    out = []
    for org_id in sorted(provider_org_ids):
        org = tx.tenancy.org(org_id)
        for currency, owed in sorted(ledger.owed(tx, org_id).items()):
            if owed < 0 and org is not None:
                out.append(
                    f"{org.name} was already paid for this: it owes back {Money(-owed, currency)}, "
                    "netted against what it earns next (suanli settlement)"
                )
    return out


def set_credit_limit(
    tx: Tx,
    who: Principal,
    org_name: str,
    project_name: str,
    limit: str,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """How far below zero a project's cash may go (operators); audited."""
    require_operator(who)
    org, project = _project(tx, who, org_name, project_name)
    money = read_amount("limit", limit, what="a credit limit")
    refuse_unused_currency(tx, project, money.currency, "limit")
    before = holds.funds(tx, project.id, money.currency).credit_limit
    ledger.set_credit_limit(tx, project.id, money.currency, money.minor, now)
    audit.record(
        tx, who, "credit_limit", org.id, f"/orgs/{org.name}/projects/{project.name}/credit-limit", now,
        amount=money, reason=reason, detail={"previous_minor": before},
    )  # fmt: skip
    f = holds.funds(tx, project.id, money.currency)
    return {
        "org": org.name,
        "project": project.name,
        "credit_limit": money_view(f.credit_limit, money.currency),
        "available": money_view(f.available, money.currency),
    }


def audit_events(tx: Tx, who: Principal, *, org: str | None, action: str | None) -> list[dict[str, Any]]:
    """The audit trail: operators see every record; an org's finance roles see their org's. An
    `action` nothing records is refused (`audit.ACTIONS`), not answered with an empty trail."""
    if action is not None:
        audit.known_action(action)
    if org is None:
        require_operator(who)
        return [audit.view(r) for r in tx.billing.audit(action=action)]
    found = org_for(tx, who, org)
    require_finance(who, found)
    return [audit.view(r) for r in tx.billing.audit(action=action, org_ids=[found.id])]
