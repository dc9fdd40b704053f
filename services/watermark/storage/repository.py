"""The provenance registry."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select
from sqlalchemy.dialects.postgresql import insert

from services.watermark.storage.tables import generation_ids, provenance


def next_generation_id(conn: Connection) -> int:
    return int(conn.execute(generation_ids.next_value()).scalar())


def record(conn: Connection, **values) -> None:
    """Idempotent: a redelivered event leaves the first record as it was."""
    conn.execute(insert(provenance).values(**values).on_conflict_do_nothing(index_elements=["generation_id"]))


def find(conn: Connection, generation_id: int) -> Row | None:
    return conn.execute(select(provenance).where(provenance.c.generation_id == generation_id)).first()
