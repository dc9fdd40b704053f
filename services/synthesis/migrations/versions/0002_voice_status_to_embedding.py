"""The voice's status belongs to the embedding service: synthesis keeps only what it needs to speak.

status / failure_reason / failure_detail / build_seconds become revoked and deleted flags (disabled →
revoked), an empty artifact_key for a voice that is not built (building, failed), and built_at (the
artifact's version, for the per-worker voice cache). Downgrade rebuilds the status from those.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.add_column("voices", sa.Column("revoked", sa.Boolean, nullable=False, server_default="false"), schema=schema)
    op.add_column("voices", sa.Column("deleted", sa.Boolean, nullable=False, server_default="false"), schema=schema)
    op.add_column("voices", sa.Column("built_at", sa.DateTime(timezone=True)), schema=schema)
    op.execute(
        f"""UPDATE "{schema}".voices SET
              revoked = (status = 'disabled'),
              deleted = (status = 'deleted'),
              artifact_key = CASE WHEN status = 'ready' THEN artifact_key ELSE '' END,
              built_at = CASE WHEN status = 'ready' THEN updated_at END"""
    )
    for column in ("status", "failure_reason", "failure_detail", "build_seconds"):
        op.drop_column("voices", column, schema=schema)


def downgrade(schema: str) -> None:
    op.add_column(
        "voices", sa.Column("status", sa.String(12), nullable=False, server_default="building"), schema=schema
    )
    op.add_column(
        "voices", sa.Column("failure_reason", sa.String(60), nullable=False, server_default=""), schema=schema
    )
    op.add_column("voices", sa.Column("failure_detail", sa.Text, nullable=False, server_default=""), schema=schema)
    op.add_column("voices", sa.Column("build_seconds", sa.Float, nullable=False, server_default="0"), schema=schema)
    op.execute(
        f"""UPDATE "{schema}".voices SET status = CASE
              WHEN deleted THEN 'deleted' WHEN revoked THEN 'disabled'
              WHEN artifact_key <> '' THEN 'ready' ELSE 'building' END"""
    )
    op.alter_column("voices", "status", server_default=None, schema=schema)
    for column in ("revoked", "deleted", "built_at"):
        op.drop_column("voices", column, schema=schema)
