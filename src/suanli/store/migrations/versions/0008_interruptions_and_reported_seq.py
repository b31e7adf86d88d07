"""Jobs count the attempts their sites stopped on purpose (ADR 0032); a usage record kept under
another number than its site gave keeps the site's number; stored checkpoint intervals past the
spec's new bound (30 days, the longest run) are brought to it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MAX_CHECKPOINT_S = 30 * 86400  # domain.spec.MAX_RUNTIME_S: an interval past every run never comes


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("interruptions", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("reported_seq", sa.BigInteger(), nullable=True))
    clamp_stored_checkpoints(op.get_bind())


def clamp_stored_checkpoints(bind: sa.Connection) -> int:
    """Bring every stored spec's `checkpoint_interval_s` past the bound to it; how many changed."""
    jobs = sa.table("jobs", sa.column("id", sa.String()), sa.column("spec", sa.JSON()))
    changed = 0
    for job_id, spec in bind.execute(sa.select(jobs.c.id, jobs.c.spec)).all():
        spec = json.loads(spec) if isinstance(spec, str) else spec
        interval = spec.get("checkpoint_interval_s") if isinstance(spec, dict) else None
        if isinstance(interval, int) and interval > MAX_CHECKPOINT_S:
            fixed = {**spec, "checkpoint_interval_s": MAX_CHECKPOINT_S}
            bind.execute(sa.update(jobs).where(jobs.c.id == job_id).values(spec=fixed))
            changed += 1
    return changed


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("reported_seq")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("interruptions")
