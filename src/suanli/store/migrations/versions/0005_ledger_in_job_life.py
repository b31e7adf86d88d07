"""The ledger in a job's life: an attempt pins the price version it was placed at, a hold records
the part vouchers are expected to pay, a project says what happens when its funds run out.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("price_version_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key("fk_attempts_price_version", "price_versions", ["price_version_id"], ["id"])
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("voucher_minor", sa.BigInteger(), nullable=False, server_default="0"))
        batch.create_index("ix_holds_attempt", ["attempt_id"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("on_funds_exhausted", sa.String(length=16), nullable=False, server_default="stop")
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("on_funds_exhausted")
    with op.batch_alter_table("holds") as batch:
        batch.drop_index("ix_holds_attempt")
        batch.drop_column("voucher_minor")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_constraint("fk_attempts_price_version", type_="foreignkey")
        batch.drop_column("price_version_id")
