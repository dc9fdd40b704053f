"""Usage roll-ups in PostgreSQL (SQLAlchemy Core over the transaction's connection).

A contribution is merged under a row lock: counters could be added atomically, but the latency sketches
are merged in Python, so the row is read FOR UPDATE, merged and written back. Two consumers may touch the
same row at once (usage is partitioned by tenant, failures by job), hence the lock; a row that does not
exist yet is inserted with ON CONFLICT DO NOTHING, and a lost race falls back to the locked update.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Index,
    LargeBinary,
    String,
    Table,
    and_,
    bindparam,
    desc,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from kit.db.unit_of_work import SqlUnitOfWork
from services.billing.domain.analytics import Counters, LatencySketch, Rollup, RollupKey
from services.billing.storage.tables import metadata

usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("voice_id", String(), primary_key=True),
    Column("language", String(), primary_key=True),
    Column("model", String(), primary_key=True),
    Column("requests", BigInteger, nullable=False, server_default="0"),
    Column("failures", BigInteger, nullable=False, server_default="0"),
    Column("characters", BigInteger, nullable=False, server_default="0"),
    Column("audio_seconds", Float, nullable=False, server_default="0"),
    Column("compute_seconds", Float, nullable=False, server_default="0"),
    Column("first_chunk_sketch", LargeBinary, nullable=False, server_default=""),
    Column("total_sketch", LargeBinary, nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# Operator reports read every tenant's rows of a range of days.
Index("usage_rollups_day", usage_rollups.c.day)

_KEY = (
    usage_rollups.c.tenant_id,
    usage_rollups.c.day,
    usage_rollups.c.voice_id,
    usage_rollups.c.language,
    usage_rollups.c.model,
)


_COUNTER_COLUMNS = (
    "requests",
    "failures",
    "characters",
    "audio_seconds",
    "compute_seconds",
    "first_chunk_sketch",
    "total_sketch",
)


def _values(counters: Counters) -> dict:
    return {
        "requests": counters.requests,
        "failures": counters.failures,
        "characters": counters.characters,
        "audio_seconds": counters.audio_seconds,
        "compute_seconds": counters.compute_seconds,
        "first_chunk_sketch": counters.first_chunk.to_bytes(),
        "total_sketch": counters.total.to_bytes(),
    }


def _rollup(row) -> Rollup:
    key = RollupKey(row.tenant_id, row.day, row.voice_id, row.language, row.model)
    counters = Counters(
        row.requests,
        row.failures,
        row.characters,
        row.audio_seconds,
        row.compute_seconds,
        LatencySketch.from_bytes(row.first_chunk_sketch),
        LatencySketch.from_bytes(row.total_sketch),
    )
    return Rollup(key, counters)


# Built once: composing the five-column key condition costs more than the round trip it is sent in.
_KEY_MATCHES = and_(*(column == bindparam(f"key_{column.name}") for column in _KEY))
_SELECT_LOCKED = select(usage_rollups).where(_KEY_MATCHES).with_for_update()
_UPDATE = (
    update(usage_rollups)
    .where(_KEY_MATCHES)
    .values({**{name: bindparam(f"new_{name}") for name in _COUNTER_COLUMNS}, "updated_at": func.now()})
)


def _key_params(key: RollupKey) -> dict:
    return {
        "key_tenant_id": key.tenant_id,
        "key_day": key.day,
        "key_voice_id": key.voice_id,
        "key_language": key.language,
        "key_model": key.model,
    }


class SqlRollups:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _locked(self, key: RollupKey):
        return self.conn.execute(_SELECT_LOCKED, _key_params(key)).first()

    def add(self, contribution: Rollup) -> None:
        key = contribution.key
        row = self._locked(key)
        if row is None:
            inserted = self.conn.execute(
                insert(usage_rollups)
                .values(
                    tenant_id=key.tenant_id,
                    day=key.day,
                    voice_id=key.voice_id,
                    language=key.language,
                    model=key.model,
                    **_values(contribution.counters),
                )
                .on_conflict_do_nothing()
                .returning(usage_rollups.c.tenant_id)
            ).first()
            if inserted is not None:
                return
            row = self._locked(key)  # another transaction inserted it first; its row is committed now
            assert row is not None
        merged = _rollup(row).counters
        merged.absorb(contribution.counters)
        self.conn.execute(_UPDATE, {**_key_params(key), **{f"new_{k}": v for k, v in _values(merged).items()}})

    def between(self, first, last, tenant_ids: list[str] | None = None, voice_id: str | None = None) -> list[Rollup]:
        query = select(usage_rollups).where(usage_rollups.c.day >= first, usage_rollups.c.day <= last)
        if tenant_ids is not None:
            query = query.where(usage_rollups.c.tenant_id.in_(tenant_ids))
        if voice_id is not None:
            # Within the primary key's (tenant, day) range: no index of its own needed.
            query = query.where(usage_rollups.c.voice_id == voice_id)
        return [_rollup(row) for row in self.conn.execute(query.order_by(*_KEY))]

    def top_tenants(self, first, last, order_by: str, limit: int) -> list[str]:
        amount = func.sum(usage_rollups.c[order_by]).label("amount")
        query = (
            select(usage_rollups.c.tenant_id, amount)
            .where(usage_rollups.c.day >= first, usage_rollups.c.day <= last)
            .group_by(usage_rollups.c.tenant_id)
            .order_by(desc(amount), usage_rollups.c.tenant_id)
            .limit(limit)
        )
        return [row.tenant_id for row in self.conn.execute(query)]


class SqlAnalyticsUnitOfWork(SqlUnitOfWork[SqlRollups]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlRollups)
