"""The ledger service: top-ups, credit limits, prices in force, refunds, voucher grants and expiry.

What a placement holds of a project's funds, and the captures and releases against it, are in
`holds.py`, on the same terms.

Each function runs inside the caller's transaction (`with db.transaction() as tx:`), so one call is
one database transaction with whatever else the caller does. Decisions are made by the pure rules
in `domain/ledger.py`, the same ones the in-memory `Ledger` applies; this module loads rows, locks the
accounts it moves (in id order), and appends the transfer. Every write is idempotent by its transfer
id (a charge's id is `charge:<usage key>`, so a usage record is charged once). Nothing here checks
who is calling: `control/money.py` does that for people; the scheduling loop calls this directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from suanli.control.errors import Conflict, Invalid, NotFound
from suanli.domain.errors import FieldError
from suanli.domain.ledger import (
    Entry,
    PriceBook,
    Rates,
    Transfer,
    TransferKind,
    Usage,
    Voucher,
    balance_of,
    book_in_force,
    cash_account,
    check_balanced,
    estimate,
    expire_entries,
    grant_entries,
    payable_account,
    payout_entries,
    programme_account,
    refund_entries,
    to_minor,
    topup_entries,
    voucher_account,
    voucher_live,
)
from suanli.domain.money import Money
from suanli.store import Tx
from suanli.store.tables import (
    Attempt,
    LedgerTransfer,
    Pool,
    PriceVersion,
    UsageRecord,
    VoucherGrant,
    VoucherProgramme,
)

SYSTEM = "system"


def book_of(row: PriceVersion) -> PriceBook:
    return PriceBook(
        row.currency,
        Rates(
            Decimal(row.tenant_accelerator_hour), Decimal(row.tenant_cpu_hour), Decimal(row.tenant_gb_hour)
        ),
        Rates(
            Decimal(row.wholesale_accelerator_hour),
            Decimal(row.wholesale_cpu_hour),
            Decimal(row.wholesale_gb_hour),
        ),
        row.minimum_minor,
        row.version,
        row.effective_at,
    )


def voucher_of(row: VoucherGrant) -> Voucher:
    return Voucher(
        row.id,
        row.programme_id,
        row.org_id,
        row.currency,
        row.face_minor,
        Decimal(row.share),
        row.valid_from,
        row.valid_until,
        frozenset(row.providers),
        frozenset(row.sites),
        frozenset(row.accelerators),
    )


def balance(tx: Tx, account_id: str) -> int:
    row = tx.ledger.account(account_id)
    return balance_of(account_id, row.signed_sum if row else 0)


def post(tx: Tx, transfer: Transfer, by: str) -> LedgerTransfer:
    check_balanced(transfer.entries)
    return tx.ledger.post(transfer, by)


def _replay(tx: Tx, transfer_id: str, kind: TransferKind, ref: str) -> LedgerTransfer | None:
    seen = tx.ledger.transfer(transfer_id)
    if seen is not None and (seen.kind, seen.ref) != (kind.value, ref):
        raise Conflict(
            f"transfer id {transfer_id} was used for a {seen.kind} of {seen.ref}", code="transfer_reused"
        )
    return seen


def _same_entries(tx: Tx, seen: LedgerTransfer, entries: Sequence[Entry], what: str) -> LedgerTransfer:
    """A transfer id sent again: the transfer it first posted, if it posted these entries; else refused."""
    posted = tx.ledger.entries([seen.id])
    if sorted((e.account_id, e.amount_minor, e.currency) for e in posted) != sorted(
        (e.account, e.amount, e.currency) for e in entries
    ):
        raise Conflict(f"transfer id {seen.id} was used for {what} of another amount", code="transfer_reused")
    return seen


def topup(
    tx: Tx, transfer_id: str, project_id: str, amount: int, currency: str, now: datetime, by: str
) -> LedgerTransfer:
    seen = _replay(tx, transfer_id, TransferKind.TOPUP, project_id)
    entries = topup_entries(project_id, amount, currency) if amount > 0 else ()
    if seen is not None:
        return _same_entries(tx, seen, entries, "a top-up")
    if amount <= 0:
        raise Invalid("a top-up is a positive amount")
    return post(tx, Transfer(transfer_id, TransferKind.TOPUP, now, entries, project_id), by)


def payout(
    tx: Tx, transfer_id: str, provider_org_id: str, amount: int, currency: str, now: datetime, by: str
) -> LedgerTransfer:
    """Record a payment to a provider: at most what its payable account holds (what it is owed)."""
    seen = _replay(tx, transfer_id, TransferKind.PAYOUT, provider_org_id)
    entries = payout_entries(provider_org_id, amount, currency)
    if seen is not None:
        return _same_entries(tx, seen, entries, "a payout")
    account = payable_account(provider_org_id, currency)
    row = tx.ledger.lock_accounts([account], currency, now)[account]
    owed = balance_of(row.id, row.signed_sum)
    if amount > owed:
        raise Invalid(
            f"a payout is at most what the provider is owed: {Money(max(owed, 0), currency)}",
            [FieldError("amount", f"at most {Money(max(owed, 0), currency)}")],
        )
    return post(tx, Transfer(transfer_id, TransferKind.PAYOUT, now, entries, provider_org_id), by)


def owed(tx: Tx, provider_org_id: str) -> dict[str, int]:
    """What a provider is owed now, per currency (its payable accounts' balances)."""
    return {
        a.currency: balance_of(a.id, a.signed_sum)
        for a in tx.ledger.accounts(payable_account(provider_org_id, ""))
        if balance_of(a.id, a.signed_sum)
    }


def set_credit_limit(tx: Tx, project_id: str, currency: str, limit: int, now: datetime) -> None:
    account = tx.ledger.lock_accounts([cash_account(project_id, currency)], currency, now)
    row = next(iter(account.values()))
    if limit < 0 or balance_of(row.id, row.signed_sum) + limit < 0:
        raise Invalid("a credit limit is not negative and covers what the project already owes")
    row.credit_limit_minor = limit


def price_in_force(tx: Tx, pool_id: str, at: datetime) -> PriceVersion | None:
    return prices_in_force(tx, [pool_id], at)[pool_id]


def prices_in_force(tx: Tx, pool_ids: Iterable[str], at: datetime) -> dict[str, PriceVersion | None]:
    """`price_in_force` for each of the pools, read in one query (None: the pool is not priced)."""
    ids = list(pool_ids)
    rows: dict[str, list[PriceVersion]] = {pool_id: [] for pool_id in ids}
    for row in tx.ledger.price_versions(ids):
        rows[row.pool_id].append(row)
    found: dict[str, PriceVersion | None] = {}
    for pool_id, versions in rows.items():
        book = book_in_force([book_of(r) for r in versions], at)
        found[pool_id] = next((r for r in versions if book is not None and r.version == book.version), None)
    return found


def list_price(row: PriceVersion, pool: Pool) -> Money:
    """A version's headline rate on `pool`: its tenant accelerator-hour price (CPU-hour on a CPU
    pool) in whole minor units, what the pool's `price_per_hour` shows while the version is in force."""
    tenant = book_of(row).tenant
    return Money(to_minor(tenant.accelerator_hour if pool.accelerator else tenant.cpu_hour), row.currency)


def sync_pool_price(tx: Tx, pool: Pool, at: datetime) -> None:
    """Keep `pools.price_minor` (what the scheduler's cost score reads) at the `list_price` of the
    version in force at `at`. Call it when a version is added and, for versions that take effect
    later, from the loop's housekeeping."""
    row = price_in_force(tx, pool.id, at)
    if row is not None:
        price = list_price(row, pool)
        pool.price_minor, pool.currency = price.minor, price.currency


def expected_amount(tx: Tx, pool_id: str, usage: Usage, now: datetime) -> int | None:
    """What `usage` would cost on the pool at the price in force (None: the pool is not priced)."""
    row = price_in_force(tx, pool_id, now)
    return None if row is None else estimate(book_of(row), usage)


def usage_of(record: UsageRecord, attempt: Attempt) -> Usage:
    """A usage record as the ledger charges it: what the attempt was allocated (accelerators, CPUs,
    MiB of memory, on all its nodes) × the record's wall time. A tenant pays for the capacity it held,
    whatever share of it the job kept busy, the same on every backend (a site reports CPU time
    measured (local) or allocated (Slurm); those figures stay in the record for reports)."""
    nodes, wall = len(attempt.nodes), record.wall_seconds
    return Usage(
        attempt.accelerators_per_node * nodes * wall,
        attempt.cpus_per_node * nodes * wall,
        attempt.memory_mib_per_node * nodes * wall,
    )


def cpu_seconds_held(attempt: Attempt | None, wall_seconds: int, reported: int) -> int:
    """CPU-seconds as `usage_of` charges them for `wall_seconds` of the attempt: its CPUs on all its
    nodes × the time (what the site reported, where the attempt is not known)."""
    return attempt.cpus_per_node * len(attempt.nodes) * wall_seconds if attempt is not None else reported


def usage_key(record: UsageRecord) -> str:
    """The key a usage record is charged under, once: its site and the site's sequence number
    (`BillingRepo.charged_usage` reads the number back from it)."""
    return site_usage_key(record.site_id, record.seq)


def site_usage_key(site_id: str, seq: int) -> str:
    return f"usage:{site_id}:{seq}"


def refund(tx: Tx, transfer_id: str, charge_id: str, now: datetime, by: str) -> LedgerTransfer:
    """Reverse a charge in full under `transfer_id`: each source gets its part back, a voucher while
    it is live, else its programme (`refund_entries`, ADR 0041)."""
    seen = _replay(tx, transfer_id, TransferKind.REFUND, charge_id)
    if seen is not None:
        return seen
    _refund(tx, {charge_id: transfer_id}, now, by)
    row = tx.ledger.transfer(transfer_id)
    assert row is not None
    return row


def refund_many(tx: Tx, charge_ids: Sequence[str], now: datetime, by: str) -> list[Transfer]:
    """`refund` of many charges at once (transfer ids `refund:<charge>`), as if one after the other:
    read together and posted together (`LedgerRepo.post_many`). None of them may have been refunded.
    Returns the refunds posted, with their entries (`ref`: the charge), so that a caller need not
    read them back."""
    return _refund(tx, {c: f"refund:{c}" for c in charge_ids}, now, by)


def _refund(tx: Tx, ids: dict[str, str], now: datetime, by: str) -> list[Transfer]:
    """Post the refunds of these charges (charge id → refund transfer id).

    Every account the refunds may touch (the charges' own and their vouchers' programmes) is locked
    first, in one ordered pass per currency, and only then is it read whether each voucher is live:
    a sweep writing a voucher off (`expire_vouchers`) is then wholly before the refund (the voucher
    is not live: its part goes to the programme) or wholly after (it writes off what came back)."""
    if not ids:
        return []
    charge_ids = list(ids)
    charges = {t.id: t for t in tx.ledger.transfers_by_ids(charge_ids)}
    missing = [c for c in charge_ids if c not in charges or charges[c].kind != TransferKind.CHARGE.value]
    if missing:
        raise NotFound(f"no charge {missing[0]}")
    done = tx.ledger.charges_by_once_key(f"refund-of:{c}" for c in charge_ids)
    if done:
        raise Conflict(f"charge {min(done).removeprefix('refund-of:')} was refunded already", code="refunded")
    lines: dict[str, list[Entry]] = {c: [] for c in charge_ids}
    for transfer_id, account, amount, source, currency in tx.ledger.entry_lines(charge_ids):
        lines[transfer_id].append(Entry(account, amount, currency, source))
    every = [e for es in lines.values() for e in es]
    vouchers = tx.ledger.vouchers_by_ids(
        e.account.split(":", 1)[1] for e in every if e.account.startswith("voucher:")
    )
    by_currency: dict[str, set[str]] = {}
    for e in every:
        by_currency.setdefault(e.currency, set()).add(e.account)
    for v in vouchers:
        by_currency.setdefault(v.currency, set()).add(programme_account(v.programme_id))
    for currency, accounts in sorted(by_currency.items()):
        tx.ledger.lock_accounts(accounts, currency, now)
    fresh = tx.ledger.vouchers_by_ids([v.id for v in vouchers], fresh=True)  # as the lock left them
    programme_of = {v.id: v.programme_id for v in fresh}
    live = {v.id for v in fresh if voucher_live(v.valid_until, v.expired_at is not None, now)}
    refunds = []
    for c in charge_ids:
        charge = Transfer(c, TransferKind.CHARGE, charges[c].at, tuple(lines[c]))
        entries = refund_entries(charge, programme_of, live)
        check_balanced(entries)
        refunds.append(Transfer(ids[c], TransferKind.REFUND, now, entries, c, once_key=f"refund-of:{c}"))
    tx.ledger.post_many(refunds, by)
    return refunds


def grant_voucher(
    tx: Tx, transfer_id: str, programme: VoucherProgramme, voucher: Voucher, now: datetime, by: str
) -> VoucherGrant:
    """Grant a voucher out of a programme's budget (the programme row is locked while checking it)."""
    seen = tx.ledger.transfer(transfer_id)
    if seen is not None:
        row = tx.ledger.voucher(seen.ref)
        if seen.kind != TransferKind.GRANT.value or row is None:
            raise Conflict(f"transfer id {transfer_id} was used for a {seen.kind}", code="transfer_reused")
        return row
    locked = tx.ledger.programme_by_name(programme.name, lock=True)
    assert locked is not None
    if voucher.currency != programme.currency:
        raise Invalid(f"programme {programme.name} grants {programme.currency}")
    left = locked.budget_minor - tx.ledger.issued(programme.id)
    if voucher.face_minor > left:
        raise Conflict(
            f"programme {programme.name}'s budget does not cover this grant: "
            f"{Money(max(left, 0), programme.currency)} of {Money(locked.budget_minor, programme.currency)} left to grant",
            code="over_budget",
        )
    row = tx.ledger.add_voucher(
        programme_id=programme.id,
        org_id=voucher.org_id,
        currency=voucher.currency,
        face_minor=voucher.face_minor,
        share=str(voucher.share),
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        providers=sorted(voucher.providers),
        sites=sorted(voucher.sites),
        accelerators=sorted(voucher.accelerators),
        created_at=now,
    )
    granted = replace(voucher, id=row.id, programme_id=programme.id)
    post(tx, Transfer(transfer_id, TransferKind.GRANT, now, grant_entries(granted), row.id), by)
    return row


def expire_vouchers(tx: Tx, now: datetime, by: str = SYSTEM) -> list[VoucherGrant]:
    """Write off what is left of every voucher past its validity (transfer `expire:<voucher>`)."""
    done = []
    due = [row for row in tx.ledger.vouchers(live=True) if row.valid_until <= now]
    for currency in sorted({row.currency for row in due}):  # all at once, in id order: no capture in between
        mine = [r for r in due if r.currency == currency]  # and their programmes, which a refund locks too
        accounts = [voucher_account(r.id) for r in mine] + [programme_account(r.programme_id) for r in mine]
        tx.ledger.lock_accounts(accounts, currency, now)
    for row in due:
        row.expired_at = now
        left = balance(tx, voucher_account(row.id))
        if left > 0:
            entries = expire_entries(voucher_of(row), left)
            post(tx, Transfer(f"expire:{row.id}", TransferKind.EXPIRE, now, entries, row.id), by)
        done.append(row)
    return done
