"""Indexes for what grows with metering (ADR 0033: a usage record and a charge per running attempt
every few minutes): an attempt's earlier records by where they end, which a new record may repeat
(`settlement.is_duplicate`); a site's records by the number the site gave them (`add_usage`'s resend
check); a hold's transfers by kind and date (a project's charges in a month: its budget), in place
of the index of transfers by hold alone; and transfers by kind and date (a month's refunds). Each
of those read a table's rows far beyond what it needed; none changes what is stored.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_usage_records_attempt_ended", "usage_records", ["attempt_id", "ended_at"]),
    ("ix_usage_records_site_reported", "usage_records", ["site_id", "reported_seq"]),
    ("ix_ledger_transfers_ref_kind_at", "ledger_transfers", ["ref", "kind", "at"]),
    ("ix_ledger_transfers_kind_at", "ledger_transfers", ["kind", "at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.drop_index("ix_ledger_transfers_ref", table_name="ledger_transfers")  # the new one's prefix


def downgrade() -> None:
    op.create_index("ix_ledger_transfers_ref", "ledger_transfers", ["ref"], unique=False)
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
