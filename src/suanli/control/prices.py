"""A pool's price book: the versions operators add, the one-rate `price_pool`, and their views.

A pool's prices are versions that are never changed, each in force from its `effective_at`
(`ledger.price_in_force`; `ledger.sync_pool_price` keeps the pool's list price that version's).
Adding one is operators'; the provider's (wholesale) rates are shown only to those who may
administer its site. Each function runs inside the caller's transaction and returns plain
JSON-ready dicts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.control import ledger
from suanli.control.accounts import require_operator, site_for
from suanli.control.errors import Invalid, NotFound
from suanli.control.money import money_view, read_amount
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.errors import FieldError
from suanli.domain.ledger import Rates, book_in_force
from suanli.domain.money import DEFAULT_CURRENCY, EXPONENT, RATE_RULE, parse_rate
from suanli.store import Tx
from suanli.store.tables import Pool, PriceVersion, Site

_RATE_KEYS = ("accelerator_hour", "cpu_hour", "gb_hour")
_PER = {"accelerator_hour": "accelerator-hour", "cpu_hour": "CPU-hour", "gb_hour": "GiB-hour of memory"}


def _rate(field: str, text: str) -> Decimal:
    """A price per hour in major units → an exact Decimal (`domain.money.parse_rate`)."""
    try:
        return parse_rate(text)
    except ValueError:
        pass
    # the headline says what is wrong in words; the field's line (a CLI shows its flag) what is allowed
    if text.strip().startswith("-"):
        raise Invalid("a rate is never negative", [FieldError(field, "a price per hour from 0, e.g. 38.00")])
    raise Invalid(f"{text.strip()!r} is not a price per hour", [FieldError(field, RATE_RULE)])


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
            [
                FieldError(
                    "tenant", "a rate per accelerator-hour, CPU-hour or GiB-hour on a first price (0: free)"
                )
            ],
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
                    f"required when tenants pay per {_PER[k]} on the pool's first price in {currency}: "
                    "what the provider is paid (0: nothing)",
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
    force now, the provider paid the same rate (`set_price` sets a wholesale rate apart). None
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
