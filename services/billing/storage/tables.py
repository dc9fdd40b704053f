"""Table definitions of the "billing" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, MetaData, String, Table, Text, func

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
    # Stripe's side (migration 0003): the subscription, its items, the tier it was made for.
    Column("stripe_subscription_id", String(100)),
    Column("stripe_item_ids", Text, nullable=False, server_default=""),
    Column("subscribed_tier", String(20)),
    # Set when Stripe refused the customer or subscription (a dead letter says why); replay clears it.
    Column("stripe_sync_blocked", Boolean, nullable=False, server_default="false"),
    Column("billing_state", String(20), nullable=False, server_default="active"),
    Column("billing_reason", Text, nullable=False, server_default=""),
    Column("past_due_since", DateTime(timezone=True)),
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
