"""A monthly statement as a value, and its CSV and printable HTML forms (pure: no I/O).

The HTML page is self-contained (inline style, no scripts, no external assets) and every value in
it is escaped. CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` before
text) are prefixed with `'`: a job name is the tenant's own text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from suanli.domain.billing import hours_shown
from suanli.domain.money import Money


@dataclass(frozen=True)
class JobLine:
    project: str
    job: str
    name: str
    site: str
    pool: str
    hours: str  # wall-clock hours of the usage charged, two decimals
    accelerator_hours: str
    amount: int  # net of refunds, minor units
    currency: str
    refunded: int = (
        0  # of it given back this month by refunds (minor units, ≥ 0): amount + refunded was charged
    )
    seconds: int = 0  # `hours` exactly: wall-clock seconds of the usage charged
    accelerator_seconds: int = 0  # `accelerator_hours` exactly
    cpu_hours: str = "0.00"  # the CPUs held × the time run, as charged, two decimals


@dataclass(frozen=True)
class Funding:
    source: str  # "cash", "arrears" or "voucher:<programme>"
    amount: int
    currency: str


@dataclass(frozen=True)
class Balance:
    """One project's cash account over the month: opening + top-ups − cash charged = closing."""

    project: str
    currency: str
    opening: int
    topups: int
    cash_charged: int
    closing: int
    arrears_opening: int
    arrears_closing: int

    @property
    def reconciles(self) -> bool:
        return self.opening + self.topups - self.cash_charged == self.closing


@dataclass(frozen=True)
class Statement:
    org: str
    project: str | None  # None: every project of the org
    month: str
    lines: tuple[JobLine, ...]
    funding: tuple[Funding, ...]
    balances: tuple[Balance, ...]

    def totals(self) -> dict[str, int]:
        """Σ lines per currency (equal to Σ funding per currency: both are the same ledger lines)."""
        out: dict[str, int] = {}
        for line in self.lines:
            out[line.currency] = out.get(line.currency, 0) + line.amount
        return out


def text(minor: int, currency: str) -> str:
    return str(Money(minor, currency))


def plain(minor: int, currency: str) -> str:
    """An amount without its currency, for a spreadsheet column."""
    return text(minor, currency).split()[0]


# --- CSV ----------------------------------------------------------------------------------------

COLUMNS = (
    "kind",
    "project",
    "job",
    "name",
    "site",
    "pool",
    "hours",
    "accelerator_hours",
    "amount",
    "currency",
    "refunded",
    "seconds",
    "accelerator_seconds",
    "cpu_hours",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: numbers stay numbers, formula-like text gets a `'`."""
    cell = "" if value is None else str(value)
    if cell.startswith(_FORMULA):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return out.getvalue()


def rows(st: Statement) -> list[dict[str, Any]]:
    """The statement as one table: balances, job lines, funding totals, totals (column `kind`)."""
    out: list[dict[str, Any]] = []
    for b in st.balances:
        out.append(
            {
                "kind": "opening",
                "project": b.project,
                "amount": plain(b.opening, b.currency),
                "currency": b.currency,
            }
        )
        out.append(
            {
                "kind": "topups",
                "project": b.project,
                "amount": plain(b.topups, b.currency),
                "currency": b.currency,
            }
        )
    for line in st.lines:
        out.append(
            {"kind": "job", "project": line.project, "job": line.job, "name": line.name, "site": line.site,
             "pool": line.pool, "hours": line.hours, "accelerator_hours": line.accelerator_hours,
             "amount": plain(line.amount, line.currency), "currency": line.currency,
             "refunded": plain(line.refunded, line.currency) if line.refunded else "",
             "seconds": line.seconds, "accelerator_seconds": line.accelerator_seconds,
             "cpu_hours": line.cpu_hours}
        )  # fmt: skip
    for f in st.funding:
        out.append(
            {
                "kind": "funding",
                "name": f.source,
                "amount": plain(f.amount, f.currency),
                "currency": f.currency,
            }
        )
    for cur, total in sorted(st.totals().items()):
        out.append({"kind": "total", "amount": plain(total, cur), "currency": cur})
    for b in st.balances:
        out.append(
            {
                "kind": "closing",
                "project": b.project,
                "amount": plain(b.closing, b.currency),
                "currency": b.currency,
            }
        )
    return out


def statement_csv(st: Statement) -> str:
    return to_csv(rows(st), COLUMNS)


# --- HTML ---------------------------------------------------------------------------------------

_STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 18px; margin: 0 0 .2em; } h2 { font-size: 14px; margin: 1.5em 0 .4em; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f3f3f3; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: bold; border-top: 2px solid #111; } .muted { color: #666; }
@media print { body { margin: 0; } }
"""


def _table(
    head: Sequence[str], body: Iterable[Sequence[str]], numeric: set[int], foot: Sequence[str] = ()
) -> str:
    def cells(tag: str, values: Sequence[str]) -> str:
        attrs = [' class="n"' if i in numeric else "" for i in range(len(values))]
        return "".join(f"<{tag}{a}>{escape(v)}</{tag}>" for a, v in zip(attrs, values, strict=True))

    rows_html = "".join(f"<tr>{cells('td', r)}</tr>" for r in body)
    foot_html = f"<tfoot><tr>{cells('td', foot)}</tr></tfoot>" if foot else ""
    return f"<table><thead><tr>{cells('th', head)}</tr></thead><tbody>{rows_html}</tbody>{foot_html}</table>"


def statement_html(st: Statement) -> str:
    scope = f"{st.org}/{st.project}" if st.project else f"{st.org} (all projects)"
    title = f"Statement {st.month}: {scope}"
    refunds = any(line.refunded for line in st.lines)  # a column only where a refund was made
    jobs = (
        _table(
            ("project", "job", "name", "site / pool", "hours", "accelerator hours", "CPU hours")
            + (("charged", "refunded", "net") if refunds else ("amount",)),
            [
                (
                    line.project,
                    line.job,
                    line.name,
                    f"{line.site} / {line.pool}",
                    hours_shown(line.seconds) if line.seconds else line.hours,
                    hours_shown(line.accelerator_seconds)
                    if line.accelerator_seconds
                    else line.accelerator_hours,
                    line.cpu_hours,
                )
                + (
                    (
                        text(line.amount + line.refunded, line.currency),
                        text(line.refunded, line.currency) if line.refunded else "",
                        text(line.amount, line.currency),
                    )
                    if refunds
                    else (text(line.amount, line.currency),)
                )
                for line in st.lines
            ],
            {4, 5, 6, 7, 8, 9},
        )
        if st.lines
        else '<p class="muted">No charges this month.</p>'
    )
    totals = st.totals()
    funding = _table(
        ("funding source", "amount"),
        [(f.source, text(f.amount, f.currency)) for f in st.funding],
        {1},
        ("total", ", ".join(text(v, c) for c, v in sorted(totals.items())) or "0"),
    )
    balances = _table(
        ("project", "opening", "top-ups", "cash charged", "closing", "arrears (closing)"),
        [
            (
                b.project,
                text(b.opening, b.currency),
                text(b.topups, b.currency),
                text(b.cash_charged, b.currency),
                text(b.closing, b.currency),
                text(b.arrears_closing, b.currency),
            )
            for b in st.balances
        ],
        {1, 2, 3, 4, 5},
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="muted">suanli 算力 monthly statement, amounts exact to the minor unit.</p>'
        f"<h2>Jobs</h2>{jobs}<h2>Funding</h2>{funding}<h2>Balances</h2>{balances}"
        "</body></html>\n"
    )
