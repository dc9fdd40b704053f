"""Billing's Stripe ledger: what was sent and what Stripe answered, what failed for good, the catalog
of Stripe objects billing created, webhook events applied, and invoices. The columns Stripe adds to
`accounts` are in migration 0003 and in `tables.accounts`."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text, func

from services.billing.storage.tables import metadata

# One row per billed generation (identifier = the meter event's identifier at Stripe).
meter_reports = Table(
    "meter_reports",
    metadata,
    Column("identifier", String(100), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_until", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("http_status", Integer),
    Column("answer", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("meter_reports_due", "status", "next_attempt_at"),
    Index("meter_reports_tenant", "tenant_id", "occurred_at"),
)

# Calls Stripe refused (4xx): kept with the reason until an operator replays them.
stripe_dead_letters = Table(
    "stripe_dead_letters",
    metadata,
    Column("identifier", String(200), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),  # meter_event | customer | subscription
    Column("http_status", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Stripe objects billing created (meter, prices), by a key that includes the plan's numbers.
stripe_catalog = Table(
    "stripe_catalog",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("stripe_id", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Webhook events applied, by Stripe's event id (a redelivered event is a no-op).
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("tenant_id", String(36)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

invoices = Table(
    "invoices",
    metadata,
    Column("invoice_id", String(100), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("amount_due_cents", BigInteger, nullable=False, server_default="0"),
    Column("amount_paid_cents", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="usd"),
    Column("hosted_invoice_url", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
