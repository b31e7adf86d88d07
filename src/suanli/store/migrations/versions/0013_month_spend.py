"""A project's spend per month kept as a running total (`month_spend`), moved by each charge and
refund as it is posted, as an account's balance is: a hard-capped budget reads it on every submit
and every cycle its jobs wait, and summing the month's charges grew with them (ADR 0039). The
upgrade fills it from the ledger: per project, currency and month (UTC) of each charge's or
refund's date, the sum of its lines on the tenant's accounts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TENANT_SIDE = ("cash", "voucher", "arrears", "programme")  # the account kinds a charge takes from


def upgrade() -> None:
    op.create_table(
        "month_spend",
        sa.Column("project_id", sa.String(length=40), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("charged_minor", sa.BigInteger(), nullable=False),
    )
    fill(op.get_bind())


def fill(conn: sa.Connection) -> None:
    """Insert every project's month spend as the ledger's charges and refunds add up to."""
    if conn.dialect.name == "sqlite":
        month = "strftime('%Y-%m', t.at)"
    else:
        month = "to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM')"
    tenant = " OR ".join(f"e.account_id LIKE '{kind}:%'" for kind in TENANT_SIDE)
    conn.execute(
        sa.text(f"""
        INSERT INTO month_spend (project_id, currency, month, charged_minor)
        SELECT project_id, currency, month, SUM(amount) FROM (
            SELECT h.project_id AS project_id, h.currency AS currency, {month} AS month,
                   e.amount_minor AS amount
            FROM ledger_transfers t
            JOIN ledger_entries e ON e.transfer_id = t.id
            JOIN holds h ON h.id = t.ref
            WHERE t.kind = 'charge' AND ({tenant})
            UNION ALL
            SELECT h.project_id, h.currency, {month}, e.amount_minor
            FROM ledger_transfers t
            JOIN ledger_entries e ON e.transfer_id = t.id
            JOIN ledger_transfers c ON c.id = t.ref
            JOIN holds h ON h.id = c.ref
            WHERE t.kind = 'refund' AND ({tenant})
        ) AS spent
        GROUP BY project_id, currency, month
        HAVING SUM(amount) <> 0
        """)
    )


def downgrade() -> None:
    op.drop_table("month_spend")
