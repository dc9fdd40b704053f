"""Table definitions of the "billing" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, MetaData, String, Table, func

from kit.db.tables import inbox_table, outbox_table

SCHEMA = "billing"
metadata = MetaData(schema=SCHEMA)

accounts = Table(
    "accounts",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("stripe_customer_id", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

usage_totals = Table(
    "usage_totals",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("characters", BigInteger, nullable=False, server_default="0"),
    Column("audio_seconds", Float, nullable=False, server_default="0"),
    Column("compute_seconds", Float, nullable=False, server_default="0"),
    Column("generations", BigInteger, nullable=False, server_default="0"),
    Column("reported_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
