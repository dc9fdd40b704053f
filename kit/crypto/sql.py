"""The `data_keys` table (one per service schema: migrations embedding 0002, synthesis 0003) and its
SQLAlchemy adapter of the `DataKeyStore` port, on the caller's connection (so a key is created or
shredded in the same transaction as the voice's state)."""

from __future__ import annotations

from sqlalchemy import Column, Connection, DateTime, LargeBinary, MetaData, String, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from kit.crypto.envelope import WrappedKey


def data_keys_table(metadata: MetaData) -> Table:
    return Table(
        "data_keys",
        metadata,
        Column("voice_id", String(36), primary_key=True),
        Column("tenant_id", String(36), nullable=False, index=True),
        Column("kek_id", String(64), nullable=False),
        Column("wrapped_key", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def _key(row) -> WrappedKey:
    return WrappedKey(row.voice_id, row.tenant_id, row.kek_id, bytes(row.wrapped_key))


class SqlDataKeys:
    def __init__(self, conn: Connection, table: Table) -> None:
        self.conn = conn
        self.table = table

    def data_key(self, voice_id: str) -> WrappedKey | None:
        row = self.conn.execute(select(self.table).where(self.table.c.voice_id == voice_id)).first()
        return _key(row) if row else None

    def add_data_key(self, key: WrappedKey) -> WrappedKey:
        self.conn.execute(
            insert(self.table)
            .values(voice_id=key.voice_id, tenant_id=key.tenant_id, kek_id=key.kek_id, wrapped_key=key.wrapped)
            .on_conflict_do_nothing(index_elements=["voice_id"])
        )
        stored = self.data_key(key.voice_id)
        assert stored is not None
        return stored

    def delete_data_key(self, voice_id: str) -> bool:
        return self.conn.execute(delete(self.table).where(self.table.c.voice_id == voice_id)).rowcount > 0

    def stale_data_keys(self, current_kek_id: str, limit: int) -> list[WrappedKey]:
        """Keys not yet wrapped under the current KEK, locked for rewrapping (others skip them)."""
        query = (
            select(self.table)
            .where(self.table.c.kek_id != current_kek_id)
            .order_by(self.table.c.voice_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_key(row) for row in self.conn.execute(query)]

    def replace_data_key(self, key: WrappedKey) -> None:
        self.conn.execute(
            update(self.table)
            .where(self.table.c.voice_id == key.voice_id)
            .values(kek_id=key.kek_id, wrapped_key=key.wrapped)
        )
