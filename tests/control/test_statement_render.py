"""A statement's CSV and HTML: totals, escaping, formula-safe cells, no external assets."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest

from suanli.control.statement_render import (
    Balance,
    Funding,
    JobLine,
    Statement,
    safe_cell,
    statement_csv,
    statement_html,
)

EVIL = '<script>alert("x")</script> & =HYPERLINK("http://evil")'


def statement(name: str = "train-7") -> Statement:
    return Statement(
        "acme",
        "vision",
        "2026-11",
        (
            JobLine("vision", "job_1", name, "sh", "a100", "1.50", "6.00", 22_800, "CNY"),
            JobLine("vision", "job_2", "eval", "bj", "cpu", "0.25", "0.00", 120, "CNY"),
        ),
        (Funding("cash", 16_044, "CNY"), Funding("voucher:haidian", 6_876, "CNY")),
        (Balance("vision", "CNY", 100_000, 50_000, 16_044, 133_956, 0, 0),),
    )


def test_totals_equal_the_funding_sources() -> None:
    st = statement()
    assert st.totals() == {"CNY": 22_920} == {"CNY": sum(f.amount for f in st.funding)}
    assert st.balances[0].reconciles


def test_csv_is_one_table_with_a_kind_column() -> None:
    table = list(csv.DictReader(io.StringIO(statement_csv(statement()))))
    kinds = [r["kind"] for r in table]
    assert kinds == ["opening", "topups", "job", "job", "funding", "funding", "total", "closing"]
    assert [r["amount"] for r in table if r["kind"] == "job"] == ["228.00", "1.20"]
    assert next(r for r in table if r["kind"] == "total")["amount"] == "229.20"
    assert next(r for r in table if r["kind"] == "closing")["amount"] == "1339.56"


def test_a_refund_shows_beside_the_line_it_gave_back_and_the_amount_stays_net() -> None:
    st = statement()
    refunded = Statement(
        st.org,
        st.project,
        st.month,
        (
            st.lines[0],
            JobLine("vision", "job_2", "eval", "bj", "cpu", "0.25", "0.00", 0, "CNY", refunded=120),
        ),
        st.funding,
        st.balances,
    )
    table = list(csv.DictReader(io.StringIO(statement_csv(refunded))))
    assert [(r["job"], r["amount"], r["refunded"]) for r in table if r["kind"] == "job"] == [
        ("job_1", "228.00", ""),
        ("job_2", "0.00", "1.20"),
    ]
    page = statement_html(refunded)
    assert '<th class="n">charged</th><th class="n">refunded</th><th class="n">net</th>' in page
    assert '<td class="n">1.20 CNY</td><td class="n">1.20 CNY</td><td class="n">0.00 CNY</td>' in page
    assert ">refunded<" not in statement_html(st)  # no column where nothing was refunded


def test_csv_quotes_and_defuses_a_hostile_job_name() -> None:
    text = statement_csv(statement(EVIL + ',\n"next"'))
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["job"] == "job_1")
    assert row["name"] == EVIL + ',\n"next"'  # quoted by the csv writer: still one cell
    formula = next(
        r for r in csv.DictReader(io.StringIO(statement_csv(statement("=1+1")))) if r["job"] == "job_1"
    )
    assert formula["name"] == "'=1+1"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("@x", "'@x"),
        ("-1.20", "-1.20"),
        ("-x", "'-x"),
        ("plain", "plain"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cells(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_html_escapes_every_value_and_loads_nothing() -> None:
    page = statement_html(statement(EVIL))
    assert "<script" not in page and "&lt;script&gt;" in page and "&amp;" in page
    assert not re.search(r"\b(src|href)\s*=", page) and "@import" not in page and "url(" not in page
    assert page.startswith("<!DOCTYPE html>") and "228.00 CNY" in page and "229.20 CNY" in page


def test_html_of_an_empty_month_says_so() -> None:
    empty = Statement("acme", None, "2026-10", (), (), ())
    page = statement_html(empty)
    assert "No charges this month." in page and "acme (all projects)" in page


def test_html_says_a_time_that_ran_but_rounds_to_nothing_is_under_a_hundredth() -> None:
    short = JobLine(
        "vision", "job_3", "ping", "sh", "a100", "0.00", "0.00", 42, "CNY", seconds=15, accelerator_seconds=15
    )
    page = statement_html(replace(statement(), lines=(short,)))
    row = page.split("job_3")[1].split("</tr>")[0]
    assert row.count(">&lt;0.01<") == 2  # hours and accelerator hours (no CPU time held: 0.00)
    assert "0.00" in statement_csv(replace(statement(), lines=(short,)))  # documents keep the rounded figure
