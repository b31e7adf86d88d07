"""A hold counts memory in MiB-seconds (`mib_seconds`), not whole GiB-seconds: each usage record
rounded its GiB-seconds down, so a job reported in many short records paid for less memory than
one reported once. Stored totals are converted (× 1024).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.alter_column("gb_seconds", new_column_name="mib_seconds")
    holds = sa.table("holds", sa.column("mib_seconds", sa.BigInteger()))
    op.execute(sa.update(holds).values(mib_seconds=holds.c.mib_seconds * 1024))


def downgrade() -> None:
    holds = sa.table("holds", sa.column("mib_seconds", sa.BigInteger()))
    op.execute(sa.update(holds).values(mib_seconds=holds.c.mib_seconds / 1024))
    with op.batch_alter_table("holds") as batch:
        batch.alter_column("mib_seconds", new_column_name="gb_seconds")
