"""Billing schema: accounts, usage totals, outbox, inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from kit.db.tables import create_event_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.create_table(
        "accounts",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("stripe_customer_id", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_table(
        "usage_totals",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("characters", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("audio_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("compute_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("generations", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    create_event_tables_v1(op, schema)


def downgrade(schema: str) -> None:
    for table in ("processed_events", "outbox", "usage_totals", "accounts"):
        op.drop_table(table, schema=schema)
