"""Usage analytics: roll-ups per tenant × UTC day × voice × language × model, latency as DDSketches.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.create_table(
        "usage_rollups",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("voice_id", sa.String(), primary_key=True),
        sa.Column("language", sa.String(), primary_key=True),
        sa.Column("model", sa.String(), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("characters", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("audio_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("compute_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("first_chunk_sketch", sa.LargeBinary, nullable=False, server_default=""),
        sa.Column("total_sketch", sa.LargeBinary, nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    # Operator reports read every tenant's rows of a range of days.
    op.create_index("usage_rollups_day", "usage_rollups", ["day"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_index("usage_rollups_day", table_name="usage_rollups", schema=schema)
    op.drop_table("usage_rollups", schema=schema)
