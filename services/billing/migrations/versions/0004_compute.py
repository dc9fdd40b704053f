"""Measured compute per tenant, period and worker class (the cost report's input).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.create_table(
        "compute_totals",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("worker_class", sa.String(64), primary_key=True),
        sa.Column("compute_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("characters", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("audio_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    # Usage recorded before workers reported their class ran on CPUs: carry it over so the report of
    # a period that straddles this migration still prices all of its generations.
    op.execute(
        f'INSERT INTO "{schema}".compute_totals'
        " (tenant_id, period, worker_class, compute_seconds, requests, characters, audio_seconds, updated_at)"
        " SELECT tenant_id, period, 'cpu', compute_seconds, generations, characters, audio_seconds, updated_at"
        f' FROM "{schema}".usage_totals'
    )


def downgrade(schema: str) -> None:
    op.drop_table("compute_totals", schema=schema)
