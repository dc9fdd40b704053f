"""Format names up to 16 characters: the headerless formats are named with their rate (pcm_24000).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("generations", "jobs")


def upgrade(schema: str) -> None:
    for table in TABLES:
        op.alter_column(table, "format", type_=sa.String(16), existing_type=sa.String(8), schema=schema)


def downgrade(schema: str) -> None:
    for table in TABLES:
        op.alter_column(table, "format", type_=sa.String(8), existing_type=sa.String(16), schema=schema)
