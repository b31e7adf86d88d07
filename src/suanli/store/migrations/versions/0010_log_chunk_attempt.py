"""Each log chunk keeps the number of the attempt that wrote it (`attempt`), so a job's output can
be read one attempt at a time and shows where each attempt's begins. Chunks written before have no
number (NULL): which attempt wrote them was never kept.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_chunks") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
        batch.create_index("ix_log_chunks_job_attempt", ["job_id", "attempt", "offset"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_chunks") as batch:
        batch.drop_index("ix_log_chunks_job_attempt")  # before the column it reads
        batch.drop_column("attempt")
