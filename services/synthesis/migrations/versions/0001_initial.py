"""Synthesis schema: generation id sequence, voices read model, generations, jobs, webhooks, outbox, inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kit.db.tables import create_event_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("webhook_deliveries", "webhooks", "jobs", "generations", "voices")


def _created(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade(schema: str) -> None:
    op.execute(f'CREATE SEQUENCE "{schema}".generation_ids START 2147483648 MINVALUE 2147483648 MAXVALUE 4294967295')
    op.create_table(
        "voices",
        sa.Column("voice_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("engine", sa.String(60), nullable=False, server_default=""),
        sa.Column("artifact_key", sa.String(300), nullable=False, server_default=""),
        sa.Column("failure_reason", sa.String(60), nullable=False, server_default=""),
        sa.Column("failure_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("consent_id", sa.String(36)),
        sa.Column("consent_expires_at", sa.DateTime(timezone=True)),
        sa.Column("build_seconds", sa.Float, nullable=False, server_default="0"),
        _created("updated_at"),
        schema=schema,
    )
    op.create_table(
        "generations",
        sa.Column("generation_id", sa.BigInteger, primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("voice_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("job_id", sa.String(36), unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("model", sa.String(60), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("characters", sa.Integer, nullable=False),
        sa.Column("audio_seconds", sa.Float, nullable=False),
        sa.Column("compute_seconds", sa.Float, nullable=False),
        _created(),
        schema=schema,
    )
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("voice_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("characters", sa.Integer, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("speed", sa.Float, nullable=False),
        sa.Column("pitch", sa.Float, nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("text_key", sa.String(300), nullable=False),
        sa.Column("audio_key", sa.String(300), nullable=False, server_default=""),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("generation_id", sa.BigInteger),
        sa.Column("audio_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_reason", sa.String(60), nullable=False, server_default=""),
        sa.Column("error_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("idempotency_key", sa.String(200)),
        _created(),
        _created("updated_at"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_job_idempotency"),
        schema=schema,
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("disabled_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        _created(),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("webhook_id", sa.String(36), nullable=False, index=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _created("next_attempt_at"),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("abandoned_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        _created(),
        schema=schema,
    )
    create_event_tables_v1(op, schema)


def downgrade(schema: str) -> None:
    for table in ("processed_events", "outbox", *TABLES):
        op.drop_table(table, schema=schema)
    op.execute(f'DROP SEQUENCE "{schema}".generation_ids')
