"""Measured compute per tenant, period and worker class (what the cost report prices), in PostgreSQL.

One row per (tenant, period, worker class), added to inside the usage consumer's transaction, so a
redelivered UsageRecorded (already marked in the inbox) never counts twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Connection, DateTime, Float, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert

from services.billing.domain.usage import Account, ComputeTotals, Usage
from services.billing.storage.tables import accounts, metadata

compute_totals = Table(
    "compute_totals",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("worker_class", String(64), primary_key=True),
    Column("compute_seconds", Float, nullable=False, server_default="0"),
    Column("requests", BigInteger, nullable=False, server_default="0"),
    Column("characters", BigInteger, nullable=False, server_default="0"),
    Column("audio_seconds", Float, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def add_compute(conn: Connection, usage: Usage) -> None:
    statement = insert(compute_totals).values(
        tenant_id=usage.tenant_id,
        period=usage.period,
        worker_class=usage.worker_class,
        compute_seconds=usage.compute_seconds,
        requests=1,
        characters=usage.characters,
        audio_seconds=usage.audio_seconds,
    )
    c = compute_totals.c
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[c.tenant_id, c.period, c.worker_class],
            set_={
                "compute_seconds": c.compute_seconds + usage.compute_seconds,
                "requests": c.requests + 1,
                "characters": c.characters + usage.characters,
                "audio_seconds": c.audio_seconds + usage.audio_seconds,
                "updated_at": func.now(),
            },
        )
    )


def period_compute(conn: Connection, period: str) -> list[ComputeTotals]:
    c = compute_totals.c
    rows = conn.execute(select(compute_totals).where(c.period == period).order_by(c.tenant_id, c.worker_class))
    return [
        ComputeTotals(
            r.tenant_id, r.period, r.worker_class, r.compute_seconds, r.requests, r.characters, r.audio_seconds
        )
        for r in rows
    ]


def known_accounts(conn: Connection, created_before: datetime | None = None) -> list[Account]:
    query = select(accounts.c.tenant_id, accounts.c.name, accounts.c.tier).order_by(accounts.c.tenant_id)
    if created_before is not None:
        query = query.where(accounts.c.created_at < created_before)
    return [Account(r.tenant_id, r.name, r.tier) for r in conn.execute(query)]
