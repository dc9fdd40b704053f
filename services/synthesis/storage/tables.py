"""Table definitions of the "synthesis" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from kit.crypto.sql import data_keys_table
from kit.db.tables import inbox_table, outbox_table
from services.synthesis.domain.generations import FIRST_GENERATION_ID, LAST_GENERATION_ID

SCHEMA = "synthesis"
metadata = MetaData(schema=SCHEMA)

# Synthesis numbers its generations in the upper half of the 32-bit mark payload; the watermark
# service's Embed (audio tenants bring) uses the lower half, so the two never collide.
generation_ids = Sequence(
    "generation_ids",
    schema=SCHEMA,
    start=FIRST_GENERATION_ID,
    minvalue=FIRST_GENERATION_ID,
    maxvalue=LAST_GENERATION_ID,
    metadata=metadata,
)

# What this service needs to speak with a voice (its status belongs to the embedding service): the
# build's artifact, the consent, and whether the voice was revoked or deleted. A read model of the
# voice lifecycle topic plus the build result.
voices = Table(
    "voices",
    metadata,
    Column("voice_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("engine", String(60), nullable=False, server_default=""),
    Column("artifact_key", String(300), nullable=False, server_default=""),  # empty: not built
    Column("built_at", DateTime(timezone=True)),
    Column("consent_id", String(36)),
    Column("consent_expires_at", DateTime(timezone=True)),
    Column("revoked", Boolean, nullable=False, server_default="false"),
    Column("deleted", Boolean, nullable=False, server_default="false"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per generation (unary, streamed or job): the usage and provenance facts, written in the
# same transaction as the GenerationCompleted and UsageRecorded events.
generations = Table(
    "generations",
    metadata,
    Column("generation_id", BigInteger, primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("voice_id", String(36), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("job_id", String(36), unique=True),  # one generation per job, whatever the retries
    Column("kind", String(10), nullable=False),  # unary | stream | job
    Column("model", String(60), nullable=False),
    Column("language", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("characters", Integer, nullable=False),
    Column("audio_seconds", Float, nullable=False),
    Column("compute_seconds", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("voice_id", String(36), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("tier", Integer, nullable=False, server_default="0"),
    # queued → running → succeeded | failed | cancelled
    Column("state", String(10), nullable=False),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("characters", Integer, nullable=False),
    Column("language", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("speed", Float, nullable=False),
    Column("pitch", Float, nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("text_key", String(300), nullable=False),
    Column("audio_key", String(300), nullable=False, server_default=""),
    Column("reservation_id", String(36), nullable=False),
    Column("generation_id", BigInteger),
    Column("audio_seconds", Float, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error_reason", String(60), nullable=False, server_default=""),
    Column("error_detail", Text, nullable=False, server_default=""),
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_job_idempotency"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("events", ARRAY(String(40)), nullable=False),
    # The HMAC key itself (it must sign every delivery); shown to the tenant once, never logged.
    Column("secret", String(100), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("disabled_reason", Text, nullable=False, server_default=""),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
)

# Deliveries are staged in the job's final transaction (an outbox of HTTP calls) and sent by a loop.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("webhook_id", String(36), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    Column("abandoned_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each voice's data key, wrapped by the deployment's KEK: deleting the row shreds its artifacts (migration 0003).
data_keys = data_keys_table(metadata)

outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
