"""Orgs carry a quota (guaranteed and limit compute units, the highest priority class they may use);
jobs count their preemptions; sites carry their bandwidth from other regions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_quotas",
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("orgs.id"), primary_key=True),
        sa.Column("guaranteed_cu_milli", sa.BigInteger(), nullable=False),
        sa.Column("limit_cu_milli", sa.BigInteger(), nullable=True),
        sa.Column("max_priority", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("preemptions", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("bandwidth_mbps", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("bandwidth_mbps")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preemptions")
    op.drop_table("org_quotas")
