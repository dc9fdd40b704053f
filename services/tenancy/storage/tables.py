"""Table definitions of the "tenancy" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from kit.db.tables import inbox_table, outbox_table

SCHEMA = "tenancy"
metadata = MetaData(schema=SCHEMA)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Billing's latest verdict (migration 0002): active | past_due | suspended, why, and when billing
    # decided it (the event's occurred_at: older verdicts arriving later are dropped).
    Column("billing_state", String(12), nullable=False, server_default="active"),
    Column("billing_reason", Text, nullable=False, server_default=""),
    Column("billing_since", DateTime(timezone=True)),
    Column("billing_event_id", String(255), nullable=False, server_default=""),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey(f"{SCHEMA}.tenants.id"), nullable=False, index=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    # Ed25519 private key (PKCS#8 PEM). Production would keep it in a KMS; see docs/security.md.
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
)

usage_periods = Table(
    "usage_periods",
    metadata,
    Column("tenant_id", String(36), ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("characters_used", BigInteger, nullable=False, server_default="0"),
)

voice_slots = Table(
    "voice_slots",
    metadata,
    Column("tenant_id", String(36), ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True),
    Column("voice_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey(f"{SCHEMA}.tenants.id"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("characters", BigInteger, nullable=False, server_default="0"),
    Column("voice_profiles", BigInteger, nullable=False, server_default="0"),
    Column("job_slots", BigInteger, nullable=False, server_default="0"),
    Column("voice_id", String(64)),
    # active → committed | released | expired
    Column("status", String(12), nullable=False, server_default="active"),
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_reservation_idempotency"),
    Index("ix_reservations_active", "tenant_id", "status", "expires_at"),
)

outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
