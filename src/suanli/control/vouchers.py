"""Compute vouchers (算力券) for people: programmes, grants, the vouchers an org holds, and the
providers an org is related to (its vouchers never pay them).

Operators create programmes, grant vouchers and declare relations; an org's owner, admin or finance
member sees its own vouchers. Each function runs inside the caller's transaction and returns plain
JSON-ready dicts. How vouchers pay is `holds.py`'s; issued, redeemed and expired, `voucher_report.py`'s.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from suanli.control import ledger
from suanli.control.accounts import check_name, org_for, require_operator, site_for
from suanli.control.errors import Conflict, Forbidden, Invalid, NotFound
from suanli.control.money import (
    MONEY_ROLES,
    money_view,
    read_amount,
    refuse_currency_no_pool_charges,
    require_finance,
)
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.catalog import UnknownAccelerator, default_catalog
from suanli.domain.errors import FieldError
from suanli.domain.ledger import Voucher
from suanli.store import Tx
from suanli.store.ids import new_id
from suanli.store.tables import VoucherGrant


def create_programme(
    tx: Tx, who: Principal, name: str, issuer: str, budget: str, now: datetime
) -> dict[str, Any]:
    require_operator(who)
    check_name("name", name)
    if tx.ledger.programme_by_name(name):
        raise Conflict(f"programme {name!r} already exists", code="exists")
    money = read_amount("budget", budget, what="a budget")
    refuse_currency_no_pool_charges(
        tx, money.currency, "budget", "1000000.00"
    )  # its vouchers could pay for nothing
    row = tx.ledger.add_programme(name, issuer or name, money.currency, money.minor, now)
    return programme_view(tx, row.name)


def programme_view(tx: Tx, name: str) -> dict[str, Any]:
    row = tx.ledger.programme_by_name(name)
    if row is None:
        raise NotFound(f"no voucher programme {name!r}")
    return {
        "name": row.name,
        "issuer": row.issuer,
        "budget": money_view(row.budget_minor, row.currency),
        "issued": money_view(tx.ledger.issued(row.id), row.currency),
    }


def list_programmes(tx: Tx, who: Principal) -> list[dict[str, Any]]:
    require_operator(who)
    return [programme_view(tx, p.name) for p in tx.ledger.programmes()]


def grant(
    tx: Tx,
    who: Principal,
    programme_name: str,
    *,
    org_name: str,
    face: str,
    share: str,
    valid_from: datetime | None,
    valid_until: datetime,
    providers: list[str],
    sites: list[str],
    accelerators: list[str],
    transfer_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    require_operator(who)
    programme = tx.ledger.programme_by_name(programme_name)
    if programme is None:
        raise NotFound(f"no voucher programme {programme_name!r}")
    org = org_for(tx, who, org_name)
    if org.kind != "tenant":  # vouchers pay for jobs, and jobs are tenants'
        raise Invalid(
            f"{org.name} is a {org.kind} org: vouchers are granted to tenants",
            [FieldError("org", "a tenant org")],
        )
    money = read_amount("face", face, programme.currency, what="a voucher's face", positive=True)
    fraction = _share(share)
    models = _models(tx, accelerators)
    start = valid_from or now
    if valid_until <= start:
        raise Invalid(
            "a voucher must end after it starts",
            [FieldError("valid_until", f"later than its start, {ts(start)}; given {ts(valid_until)}")],
        )
    provider_ids = [_provider_id(tx, p, "providers") for p in providers]
    site_ids = [site_for(tx, who, s).id for s in sites]
    voucher = Voucher(
        "", programme.id, org.id, money.currency, money.minor, fraction, start, valid_until,
        frozenset(provider_ids), frozenset(site_ids), models,
    )  # fmt: skip
    row = ledger.grant_voucher(tx, transfer_id or new_id("grt"), programme, voucher, now, who.key)
    return voucher_view(tx, row)


_SHARE_STEP = Decimal("0.0001")


def _share(text: str) -> Decimal:
    """`30%` or `0.3` → Decimal("0.3"): the most of each charge a voucher covers, 0 < share ≤ 1."""
    text = text.strip()
    try:
        value = Decimal(text.removesuffix("%"))
        value = value / 100 if text.endswith("%") else value
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or not 0 < value <= 1 or value != value.quantize(_SHARE_STEP):
        raise Invalid(
            f"{text!r} is not a share",
            [FieldError("share", "more than 0, at most 1, to a hundredth of a percent: 30%, 12.5% or 0.3")],
        )
    return Decimal(format(value.normalize(), "f"))  # kept as plain text: 0.0001, never 1E-4


def _models(tx: Tx, names: list[str]) -> frozenset[str]:
    """Accelerator models as pools name them (the catalog's canonical names, `cpu` for CPU pools),
    so that a voucher matches the pools it means. A model the catalog does not know is taken as a
    pool offers it (`sync.canonical` keeps such a name as its site said it), else refused, as in a
    job spec."""
    catalog, models = default_catalog(), set[str]()
    offered: set[str] | None = None
    for name in names:
        if name.strip().casefold() == "cpu":
            models.add("cpu")
            continue
        try:
            models.add(catalog.get(name).name)
        except UnknownAccelerator as exc:
            if offered is None:
                offered = {p.accelerator for p in tx.sites.pools(include_withdrawn=True) if p.accelerator}
            if name not in offered:
                raise Invalid(
                    f"unknown accelerator {name!r}", [FieldError("accelerators", f"{exc}; or cpu")]
                ) from None
            models.add(name)
    return frozenset(models)


def _provider_id(tx: Tx, name: str, field: str) -> str:
    org = tx.tenancy.org_by_name(name)
    if org is None:
        raise NotFound(f"no provider org {name!r}")
    if org.kind != "provider":
        raise Invalid(f"org {name!r} is a {org.kind}", [FieldError(field, "a provider org")])
    return org.id


def voucher_view(tx: Tx, row: VoucherGrant) -> dict[str, Any]:
    programme = tx.ledger.programme(row.programme_id)
    org = tx.tenancy.org(row.org_id)
    names = {o.id: o.name for o in tx.tenancy.orgs(list(row.providers))} if row.providers else {}
    site_names = [s.name for s in tx.sites.sites() if s.id in set(row.sites)]
    return {
        "id": row.id,
        "programme": programme.name if programme else row.programme_id,
        "org": org.name if org else row.org_id,
        "face": money_view(row.face_minor, row.currency),
        "remaining": money_view(ledger.balance(tx, f"voucher:{row.id}"), row.currency),
        "share": row.share,
        "valid_from": ts(row.valid_from),
        "valid_until": ts(row.valid_until),
        "providers": [names.get(p, p) for p in row.providers],
        "sites": site_names,
        "accelerators": list(row.accelerators),
        "expired": row.expired_at is not None,
    }


def list_vouchers(tx: Tx, who: Principal, org_name: str | None) -> list[dict[str, Any]]:
    """Every voucher (operators), or one org's: the one named, else the caller's only org whose
    money they may see."""
    if org_name is None and not who.operator:
        mine = sorted(o.name for o in tx.tenancy.orgs([i for i, r in who.roles.items() if r in MONEY_ROLES]))
        if len(mine) != 1:
            yours = (
                f"yours: {', '.join(mine)}" if mine else "you are an owner, admin or finance member of none"
            )
            raise Forbidden(
                f"only operators list every org's vouchers; name the org (`org`, `suanli voucher list --org ORG`; {yours})"
            )
        org_name = mine[0]
    if org_name is None:
        return [voucher_view(tx, v) for v in tx.ledger.vouchers()]
    org = org_for(tx, who, org_name)
    require_finance(who, org)
    return [voucher_view(tx, v) for v in tx.ledger.vouchers(org_id=org.id)]


def relate(
    tx: Tx, who: Principal, org_name: str, provider_name: str, note: str, now: datetime
) -> dict[str, Any]:
    """Declare that `org` is related to `provider`: its vouchers will never pay that provider."""
    require_operator(who)
    org_id, provider_id = org_for(tx, who, org_name).id, _provider_id(tx, provider_name, "provider")
    if (org_id, provider_id) not in tx.ledger.relations():
        tx.ledger.relate(org_id, provider_id, note, now)
    return {"org": org_name, "provider": provider_name, "note": note}
