"""Embedding schema: voices, samples, consent challenges, consents, outbox, inbox.

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
    now = sa.func.now
    op.create_table(
        "voices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("status_reason", sa.String(60), nullable=False, server_default=""),
        sa.Column("status_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("speech_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("encoder", sa.String(40), nullable=False, server_default=""),
        sa.Column("embedding", sa.LargeBinary),
        sa.Column("transcript", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.String(16), nullable=False, server_default=""),
        sa.Column("duplicate_of", sa.String(36)),
        sa.Column("reservation_id", sa.String(36)),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_voice_idempotency"),
        schema=schema,
    )
    op.create_table(
        "voice_samples",
        sa.Column("voice_id", sa.String(36), sa.ForeignKey(f"{schema}.voices.id"), primary_key=True),
        sa.Column("index", sa.Integer, primary_key=True),
        sa.Column("object_key", sa.String(300), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("native_rate", sa.Integer, nullable=False),
        sa.Column("codec", sa.String(40), nullable=False),
        schema=schema,
    )
    op.create_table(
        "consent_challenges",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("voice_id", sa.String(36), sa.ForeignKey(f"{schema}.voices.id"), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("voice_id", sa.String(36), sa.ForeignKey(f"{schema}.voices.id"), nullable=False, index=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prohibited_uses", sa.ARRAY(sa.Integer), nullable=False),
        sa.Column("authorized_tenant_ids", sa.ARRAY(sa.String(36)), nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("evidence_key", sa.String(300)),
        sa.Column("speaker_score", sa.Float),
        sa.Column("phrase_verified", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    create_event_tables_v1(op, schema)


def downgrade(schema: str) -> None:
    for table in ("processed_events", "outbox", "consents", "consent_challenges", "voice_samples", "voices"):
        op.drop_table(table, schema=schema)
