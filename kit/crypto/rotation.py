"""KEK rotation: every data key not yet wrapped under the ring's current KEK is unwrapped with the KEK it
names and wrapped again under the current one. Objects are never touched (their data keys do not change).

Batches commit one by one, so a rotation interrupted half-way resumes where it stopped; rows are locked
with SKIP LOCKED, so a second rotation running at once takes other rows, and a key a deletion holds is
left to the next pass (or gone, which is just as good)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Table, func, select

from kit.crypto.envelope import KekRing
from kit.crypto.sql import SqlDataKeys


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    remaining: int  # keys still under another KEK (locked by someone else meanwhile)


def stale_count(engine: Engine, table: Table, current_kek_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(table.c.kek_id != current_kek_id)).scalar_one()


def rewrap_all(engine: Engine, table: Table, ring: KekRing, batch: int = 500) -> Rotation:
    rewrapped = 0
    while True:
        with engine.begin() as conn:
            keys = SqlDataKeys(conn, table)
            stale = keys.stale_data_keys(ring.current_id, batch)
            for wrapped in stale:
                keys.replace_data_key(ring.rewrap(wrapped))
        rewrapped += len(stale)
        if len(stale) < batch:
            return Rotation(rewrapped, stale_count(engine, table, ring.current_id))
