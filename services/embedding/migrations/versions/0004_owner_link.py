"""The voice owner's private link: each consent keeps the SHA-256 of its link's token (never the token),
unique, so the owner's calls find their consent by it through the index.

Consents recorded before this revision have none: the tenant issues one (IssueOwnerLink).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.add_column("consents", sa.Column("owner_token_hash", sa.String(64), nullable=True), schema=schema)
    op.create_unique_constraint("consents_owner_token_hash_key", "consents", ["owner_token_hash"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_constraint("consents_owner_token_hash_key", "consents", schema=schema, type_="unique")
    op.drop_column("consents", "owner_token_hash", schema=schema)
