"""Stripe: the ledger of meter events, dead letters, catalog, webhook events, invoices; Stripe's
columns on accounts.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    for column in (
        sa.Column("stripe_subscription_id", sa.String(100)),
        sa.Column("stripe_item_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("subscribed_tier", sa.String(20)),
        sa.Column("stripe_sync_blocked", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("billing_state", sa.String(20), nullable=False, server_default="active"),
        sa.Column("billing_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("past_due_since", sa.DateTime(timezone=True)),
    ):
        op.add_column("accounts", column, schema=schema)
    op.create_table(
        "meter_reports",
        sa.Column("identifier", sa.String(100), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("http_status", sa.Integer),
        sa.Column("answer", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index("meter_reports_due", "meter_reports", ["status", "next_attempt_at"], schema=schema)
    op.create_index("meter_reports_tenant", "meter_reports", ["tenant_id", "occurred_at"], schema=schema)
    op.create_table(
        "stripe_dead_letters",
        sa.Column("identifier", sa.String(200), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_table(
        "stripe_catalog",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("stripe_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(100), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_due_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("amount_paid_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="usd"),
        sa.Column("hosted_invoice_url", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in ("invoices", "stripe_events", "stripe_catalog", "stripe_dead_letters", "meter_reports"):
        op.drop_table(table, schema=schema)
    for column in (
        "past_due_since",
        "billing_reason",
        "billing_state",
        "stripe_sync_blocked",
        "subscribed_tier",
        "stripe_item_ids",
        "stripe_subscription_id",
    ):
        op.drop_column("accounts", column, schema=schema)
