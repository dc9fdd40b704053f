"""Per-voice data keys for envelope encryption of the voice artifacts synthesis builds.

Each voice's data key (AES-256-GCM) is stored wrapped by the deployment's key-encryption key
(`kek_id` names which one, so the KEK can rotate: rewrapping touches this table only). Deleting a
voice's row crypto-shreds its objects: without the key, copies in backups stay unreadable.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.create_table(
        "data_keys",
        sa.Column("voice_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("data_keys", schema=schema)
