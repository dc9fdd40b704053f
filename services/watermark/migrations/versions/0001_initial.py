"""Watermark schema: generation id sequence, provenance registry, outbox, inbox.

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
    op.execute(f'CREATE SEQUENCE "{schema}".generation_ids START 1 MAXVALUE 4294967295')
    op.create_table(
        "provenance",
        sa.Column("generation_id", sa.BigInteger, primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("voice_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("user_id", sa.String(100), nullable=False, server_default=""),
        sa.Column("api_version", sa.String(20), nullable=False, server_default=""),
        sa.Column("model", sa.String(60), nullable=False, server_default=""),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    create_event_tables_v1(op, schema)


def downgrade(schema: str) -> None:
    for table in ("processed_events", "outbox", "provenance"):
        op.drop_table(table, schema=schema)
    op.execute(f'DROP SEQUENCE "{schema}".generation_ids')
