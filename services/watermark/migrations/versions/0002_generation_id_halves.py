"""Embed's generation ids stay in the lower half of the 32-bit space; synthesis numbers the upper half.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute(f'ALTER SEQUENCE "{schema}".generation_ids MAXVALUE 2147483647')


def downgrade(schema: str) -> None:
    op.execute(f'ALTER SEQUENCE "{schema}".generation_ids MAXVALUE 4294967295')
