"""Table definitions of the "embedding" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from kit.crypto.sql import data_keys_table
from kit.db.tables import inbox_table, outbox_table

SCHEMA = "embedding"
metadata = MetaData(schema=SCHEMA)

voices = Table(
    "voices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # processing → ready | rejected; ready → disabled (consent revoked); any → deleted
    Column("status", String(12), nullable=False),
    Column("status_reason", String(60), nullable=False, server_default=""),
    Column("status_detail", Text, nullable=False, server_default=""),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("speech_seconds", Float, nullable=False, server_default="0"),
    Column("encoder", String(40), nullable=False, server_default=""),
    Column("embedding", LargeBinary),  # float32, L2-normalised
    Column("transcript", Text, nullable=False, server_default=""),
    Column("language", String(16), nullable=False, server_default=""),
    Column("duplicate_of", String(36)),
    Column("reservation_id", String(36)),
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_voice_idempotency"),
)

samples = Table(
    "voice_samples",
    metadata,
    Column("voice_id", String(36), ForeignKey(f"{SCHEMA}.voices.id"), primary_key=True),
    Column("index", Integer, primary_key=True),
    Column("object_key", String(300), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("native_rate", Integer, nullable=False),
    Column("codec", String(40), nullable=False),
)

challenges = Table(
    "consent_challenges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("voice_id", String(36), ForeignKey(f"{SCHEMA}.voices.id"), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Column("phrase", String(200), nullable=False),
    Column("language", String(16), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("voice_id", String(36), ForeignKey(f"{SCHEMA}.voices.id"), nullable=False, index=True),
    Column("tenant_id", String(36), nullable=False),
    Column("kind", String(10), nullable=False),  # spoken | written
    Column("owner_name", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("prohibited_uses", ARRAY(Integer), nullable=False),
    Column("authorized_tenant_ids", ARRAY(String(36)), nullable=False),
    Column("evidence_sha256", String(64), nullable=False),
    Column("evidence_key", String(300)),
    Column("speaker_score", Float),
    Column("phrase_verified", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    # SHA-256 (hex) of the owner link's token (migration 0004): the link is looked up by it.
    Column("owner_token_hash", String(64), unique=True),
)

# Each voice's data key, wrapped by the deployment's KEK: deleting the row shreds its samples and consent recordings.
data_keys = data_keys_table(metadata)
outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
