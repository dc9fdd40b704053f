"""Tenants' billing standing: billing's latest verdict (active, past_due, suspended), why, and when
billing decided it, so verdicts replayed out of order do not overwrite a newer one.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("billing_state", "billing_reason", "billing_since", "billing_event_id")


def upgrade(schema: str) -> None:
    op.add_column(
        "tenants", sa.Column("billing_state", sa.String(12), nullable=False, server_default="active"), schema=schema
    )
    op.add_column("tenants", sa.Column("billing_reason", sa.Text, nullable=False, server_default=""), schema=schema)
    op.add_column("tenants", sa.Column("billing_since", sa.DateTime(timezone=True)), schema=schema)
    op.add_column(
        "tenants", sa.Column("billing_event_id", sa.String(255), nullable=False, server_default=""), schema=schema
    )


def downgrade(schema: str) -> None:
    for column in reversed(COLUMNS):
        op.drop_column("tenants", column, schema=schema)
