"""The provenance registry in PostgreSQL (SQLAlchemy Core over the transaction's connection)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert

from kit.db.unit_of_work import SqlUnitOfWork as UnitOfWork
from services.watermark.domain.provenance import Record
from services.watermark.storage.tables import generation_ids, provenance


class SqlProvenanceRegistry:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def next_generation_id(self) -> int:
        return int(self.conn.execute(generation_ids.next_value()).scalar_one())

    def record(self, record: Record, source: str) -> None:
        """Idempotent: a redelivered event leaves the first record as it was."""
        self.conn.execute(
            insert(provenance)
            .values(
                generation_id=record.generation_id,
                tenant_id=record.tenant_id,
                voice_id=record.voice_id,
                user_id=record.user_id,
                api_version=record.api_version,
                model=record.model,
                source=source,
                created_at=record.created_at,
            )
            .on_conflict_do_nothing(index_elements=["generation_id"])
        )

    def find(self, generation_id: int) -> Record | None:
        row = self.conn.execute(select(provenance).where(provenance.c.generation_id == generation_id)).first()
        if row is None:
            return None
        return Record(
            row.generation_id, row.created_at, row.tenant_id, row.voice_id, row.user_id, row.api_version, row.model
        )


class SqlUnitOfWork(UnitOfWork[SqlProvenanceRegistry]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlProvenanceRegistry)
