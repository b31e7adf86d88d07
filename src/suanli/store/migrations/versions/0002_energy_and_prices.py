"""Sites carry an energy profile; pools carry a price.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("pue_milli", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("carbon_g_per_kwh", sa.Integer(), nullable=True))
    with op.batch_alter_table("pools") as batch:
        batch.add_column(sa.Column("price_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pools") as batch:
        batch.drop_column("currency")
        batch.drop_column("price_minor")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("carbon_g_per_kwh")
        batch.drop_column("pue_milli")
