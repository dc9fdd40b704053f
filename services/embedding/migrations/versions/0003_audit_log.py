"""The audit log: who did what to which voice and consent, from which key and address.

Append-only in PostgreSQL itself: a trigger refuses UPDATE, DELETE and TRUNCATE, so neither the
service nor anyone with its credentials can rewrite history (only a schema owner dropping the
trigger could, and that is visible in the migration history).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("voice_id", sa.String(36)),
        sa.Column("consent_id", sa.String(36)),
        # tenant | operator | service | owner
        sa.Column("actor_kind", sa.String(16), nullable=False, server_default=""),
        sa.Column("actor_key_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("actor_address", sa.String(64), nullable=False, server_default=""),
        sa.Column("request_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=schema,
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant_id", "id"], schema=schema)
    op.execute(
        f"""CREATE FUNCTION "{schema}".audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"""
    )
    op.execute(
        f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON "{schema}".audit_log
            FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_append_only()"""
    )
    op.execute(
        f"""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "{schema}".audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".audit_log_append_only()"""
    )


def downgrade(schema: str) -> None:
    op.drop_table("audit_log", schema=schema)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".audit_log_append_only()')
