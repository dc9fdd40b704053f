"""Tenancy schema: tenants, API keys, signing keys, usage, voice slots, reservations, outbox, inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from kit.db.tables import create_event_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _now():
    return sa.func.now()


def upgrade(schema: str) -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        schema=schema,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey(f"{schema}.tenants.id"), nullable=False, index=True),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "usage_periods",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey(f"{schema}.tenants.id"), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("characters_used", sa.BigInteger, nullable=False, server_default="0"),
        schema=schema,
    )
    op.create_table(
        "voice_slots",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey(f"{schema}.tenants.id"), primary_key=True),
        sa.Column("voice_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        schema=schema,
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey(f"{schema}.tenants.id"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("characters", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("voice_profiles", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("job_slots", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("voice_id", sa.String(64)),
        sa.Column("status", sa.String(12), nullable=False, server_default="active"),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_reservation_idempotency"),
        schema=schema,
    )
    op.create_index("ix_reservations_active", "reservations", ["tenant_id", "status", "expires_at"], schema=schema)
    create_event_tables_v1(op, schema)


def downgrade(schema: str) -> None:
    for table in (
        "processed_events",
        "outbox",
        "reservations",
        "voice_slots",
        "usage_periods",
        "signing_keys",
        "api_keys",
        "tenants",
    ):
        op.drop_table(table, schema=schema)
