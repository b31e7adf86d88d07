"""Money operations for people: balances, top-ups, credit limits, refunds, price books, the audit trail.

Who may do what: operators do everything; an org's owner, admin or finance member sees its own
balances. Top-ups, credit limits, refunds and prices are operators'. Vouchers are `vouchers.py`'s.
Each function runs inside the caller's transaction and returns plain JSON-ready dicts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.control import audit, holds, ledger
from suanli.control.accounts import org_for, require_operator, site_for
from suanli.control.errors import Forbidden, Invalid, NotFound
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.errors import FieldError
from suanli.domain.ledger import Rates, book_in_force, cash_account
from suanli.domain.money import (
    AMOUNT_EXAMPLE,
    DEFAULT_CURRENCY,
    EXPONENT,
    RATE_RULE,
    AmountTooLarge,
    Money,
    parse_money,
    parse_rate,
)
from suanli.store import Tx
from suanli.store.ids import new_id
from suanli.store.tables import Org, Pool, PriceVersion, Project, Site

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


_RATE_KEYS = ("accelerator_hour", "cpu_hour", "gb_hour")


def _rate(field: str, text: str) -> Decimal:
    """A price per hour in major units → an exact Decimal (`domain.money.parse_rate`)."""
    try:
        return parse_rate(text)
    except ValueError:
        raise Invalid(f"invalid {field}: {text!r}", [FieldError(field, RATE_RULE)]) from None


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
    if org is None or org.kind != "provider":
        raise NotFound(f"no provider org {provider!r}")
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
    used = tx.ledger.price_currencies()
    if not used or currency in used or tx.ledger.account(cash_account(project.id, currency)):
        return
    names = ", ".join(sorted(used))
    raise Invalid(
        f"no pool on this network charges {currency}",
        [FieldError(field, f"pools charge {names}: e.g. '1000.00 {min(used)}'")],
        code="currency_not_used",
    )


def refund_job(
    tx: Tx, who: Principal, job_id: str, reason: str, now: datetime, attempt: int | None = None
) -> dict[str, Any]:
    """Refund every charge of a job (or of one of its attempts) not refunded yet (operators): each
    is reversed in full, its cash back to the project and its voucher parts clawed back to their
    programmes, the provider's payable and the platform's margin reversed. Asking again refunds
    nothing more; the audit trail keeps who, when, how much and why."""
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
    refunded: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for charge in charges:
        if charge.id in done:
            continue
        ledger.refund(tx, f"refund:{charge.id}", charge.id, now, who.key)
        entries = tx.ledger.entries([charge.id])
        currency = entries[0].currency if entries else DEFAULT_CURRENCY
        amount = sum(e.amount_minor for e in entries if e.amount_minor > 0)
        totals[currency] = totals.get(currency, 0) + amount
        refunded.append({"charge": charge.id, "amount": money_view(amount, currency)})
    for currency, amount in totals.items():
        audit.record(
            tx, who, "refund", job.org_id, f"/jobs/{job.id}/refund", now,
            amount=Money(amount, currency), reason=reason,
            detail={"charges": len(refunded), **({"attempt": attempt} if attempt is not None else {})},
        )  # fmt: skip
    return {
        "job": job.id,
        "attempt": attempt,
        "refunded": refunded,
        "totals": [money_view(v, c) for c, v in sorted(totals.items())],
    }


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


# --- price books --------------------------------------------------------------------------------


def set_price(
    tx: Tx,
    who: Principal,
    site_name: str,
    pool_name: str,
    *,
    currency: str | None,
    tenant: dict[str, str | None],
    wholesale: dict[str, str | None],
    minimum: str | None,
    effective_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Append a new price book version for a pool (versions are never changed). A rate, the minimum
    or the currency left out keeps the pool's newest version's (so raising the tenant price keeps
    what the provider is paid); a pool's first version, or one in another currency, has none to
    keep: a tenant rate left out is 0 (free), and a wholesale rate left out is refused where its
    tenant rate is not 0, since the provider would be paid nothing for it without anyone saying so."""
    require_operator(who)
    site = site_for(tx, who, site_name)
    pool = _offered_pool(tx, site, pool_name)
    existing = tx.ledger.price_versions([pool.id])
    newest = max(existing, key=lambda v: v.version, default=None)
    currency = (currency or (newest.currency if newest else DEFAULT_CURRENCY)).upper()
    if currency not in EXPONENT:
        raise Invalid("unknown currency", [FieldError("currency", f"allowed: {', '.join(sorted(EXPONENT))}")])
    before = ledger.book_of(newest) if newest is not None and newest.currency == currency else None
    given = [v for v in (*tenant.values(), *wholesale.values(), minimum) if v is not None]
    if before is None and all(tenant.get(k) is None for k in _RATE_KEYS):
        raise Invalid(
            "a price book needs a tenant rate",
            [FieldError("tenant", "at least one of accelerator_hour, cpu_hour, gb_hour (0 to make it free)")],
        )
    if before is not None and not given:
        raise Invalid(
            "nothing to change: give a rate or the minimum",
            [FieldError("tenant", "at least one rate, or a wholesale rate, or minimum")],
        )
    scale = Decimal(10) ** EXPONENT[currency]
    t = Rates(
        *(
            _new_rate(f"tenant.{k}", tenant.get(k), getattr(before.tenant, k) if before else None, scale)
            for k in _RATE_KEYS
        )
    )
    unpaid = [k for k in _RATE_KEYS if before is None and wholesale.get(k) is None and getattr(t, k) > 0]
    if unpaid:
        raise Invalid(
            "say what the provider is paid",
            [
                FieldError(
                    f"wholesale.{k}",
                    f"required with tenant.{k} on the pool's first price in {currency}: what the provider is paid (0: nothing)",
                )
                for k in unpaid
            ],
        )
    w = Rates(
        *(
            _new_rate(
                f"wholesale.{k}", wholesale.get(k), getattr(before.wholesale, k) if before else None, scale
            )
            for k in _RATE_KEYS
        )
    )
    if not t.covers(w):
        below = [k for k in _RATE_KEYS if getattr(t, k) < getattr(w, k)]
        raise Invalid(
            "a tenant price below the wholesale rate",
            [
                FieldError(
                    f"tenant.{k}",
                    f"at least the wholesale rate, {getattr(w, k) / scale:.{EXPONENT[currency]}f}",
                )
                for k in below
            ],
        )
    effective = effective_at or now
    if effective < now:
        raise Invalid("prices cannot change the past", [FieldError("effective_at", "now or later")])
    if minimum is not None:
        floor = read_amount("minimum", minimum, currency, what="a minimum charge").minor
    else:
        floor = before.minimum_minor if before is not None else 0
    row = tx.ledger.add_price_version(
        pool_id=pool.id,
        version=newest.version + 1 if newest is not None else 1,
        currency=currency,
        tenant_accelerator_hour=str(t.accelerator_hour),
        tenant_cpu_hour=str(t.cpu_hour),
        tenant_gb_hour=str(t.gb_hour),
        wholesale_accelerator_hour=str(w.accelerator_hour),
        wholesale_cpu_hour=str(w.cpu_hour),
        wholesale_gb_hour=str(w.gb_hour),
        minimum_minor=floor,
        effective_at=effective,
        created_by=who.key,
        created_at=now,
    )
    ledger.sync_pool_price(tx, pool, now)
    return price_view(row, site.name, pool, in_force=effective <= now)


def _new_rate(field: str, given: str | None, kept: Decimal | None, scale: Decimal) -> Decimal:
    """A rate in minor units per hour: the one given, else the one kept from the version before (0
    without one)."""
    if given is not None:
        return _rate(field, given) * scale
    return kept if kept is not None else Decimal(0)


def price_pool(
    tx: Tx, who: Principal, site_name: str, pool_name: str, price: str | None, now: datetime
) -> Pool:
    """Price a pool per accelerator-hour (per CPU-hour for a CPU pool): a new price book version in
    force now, the provider paid the same rate (`money.set_price` sets a wholesale rate apart). None
    removes the price of a pool that has no price book; a price book is append-only."""
    pool = _offered_pool(tx, site_for(tx, who, site_name, admin=True), pool_name)
    if price is None:
        if tx.ledger.price_versions([pool.id]):
            raise Invalid("a price book cannot be removed; add a version with `suanli price set`")
        pool.price_minor, pool.currency = None, None
        return pool
    parsed = read_amount("price_per_hour", price, what="a price")
    major = Decimal(parsed.minor).scaleb(-EXPONENT[parsed.currency])
    _rate("price_per_hour", str(major))  # the book's bounds, checked here to name this field
    rate: dict[str, str | None] = {"accelerator_hour" if pool.accelerator else "cpu_hour": str(major)}
    set_price(
        tx,
        who,
        site_name,
        pool_name,
        currency=parsed.currency,
        tenant=rate,
        wholesale=rate,
        minimum=None,
        effective_at=None,
        now=now,
    )
    return pool


def _offered_pool(tx: Tx, site: Site, pool_name: str) -> Pool:
    """The site's pool `pool_name`; a site's pools exist only once its agent offered them, so the
    error says which pools there are, or that there are none yet."""
    pools = tx.sites.pools([site.id])
    pool = next((p for p in pools if p.name == pool_name), None)
    if pool is not None:
        return pool
    if pools:
        why = f"it offers: {', '.join(sorted(p.name for p in pools))}"
    else:
        why = "its agent has offered none yet: prices are set once the agent offers its pools"
    raise NotFound(f"site {site.name} offers no pool {pool_name!r} ({why})")


def price_view(row: PriceVersion, site: str, pool: Pool, *, in_force: bool) -> dict[str, Any]:
    """A price book version; `price_per_hour` is its headline rate (`ledger.list_price`), the pool's
    list price while it is in force, and what the audit trail shows as the amount of the change
    that added it."""
    book = ledger.book_of(row)
    exp = Decimal(10) ** -EXPONENT[row.currency]

    def rates(r: Rates) -> dict[str, str]:  # in major units, to the currency's decimals or finer
        out = {}
        for k in ("accelerator_hour", "cpu_hour", "gb_hour"):
            value = (getattr(r, k) * exp).normalize()
            exponent = value.as_tuple().exponent
            places = max(EXPONENT[row.currency], -exponent if isinstance(exponent, int) else 0)
            out[k] = f"{value:.{places}f}"
        return out

    return {
        "site": site,
        "pool": pool.name,
        "version": row.version,
        "currency": row.currency,
        "price_per_hour": str(ledger.list_price(row, pool)),
        "tenant": rates(book.tenant),
        "wholesale": rates(book.wholesale),
        "minimum": money_view(row.minimum_minor, row.currency),
        "effective_at": ts(row.effective_at),
        "in_force": in_force,
    }


def list_prices(tx: Tx, who: Principal, site_name: str | None, now: datetime) -> list[dict[str, Any]]:
    sites = [site_for(tx, who, site_name)] if site_name else tx.sites.sites()
    out = []
    for site in sites:
        for pool in tx.sites.pools([site.id]):
            versions = tx.ledger.price_versions([pool.id])
            live = book_in_force([ledger.book_of(v) for v in versions], now)
            for v in versions:
                view = price_view(v, site.name, pool, in_force=live is not None and v.version == live.version)
                if not who.can_admin(site.org_id):
                    del view["wholesale"]  # the provider's rate is between it and the platform
                out.append(view)
    return out
