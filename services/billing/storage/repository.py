"""Billing accounts and usage totals."""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.dialects.postgresql import insert

from services.billing.storage.tables import accounts, usage_totals


def upsert_account(conn: Connection, tenant_id: str, name: str, tier: str) -> None:
    statement = insert(accounts).values(tenant_id=tenant_id, name=name, tier=tier)
    conn.execute(
        statement.on_conflict_do_update(index_elements=[accounts.c.tenant_id], set_={"name": name, "tier": tier})
    )


def add_usage(
    conn: Connection, tenant_id: str, period: str, characters: int, audio_seconds: float, compute_seconds: float
) -> None:
    statement = insert(usage_totals).values(
        tenant_id=tenant_id,
        period=period,
        characters=characters,
        audio_seconds=audio_seconds,
        compute_seconds=compute_seconds,
        generations=1,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[usage_totals.c.tenant_id, usage_totals.c.period],
            set_={
                "characters": usage_totals.c.characters + characters,
                "audio_seconds": usage_totals.c.audio_seconds + audio_seconds,
                "compute_seconds": usage_totals.c.compute_seconds + compute_seconds,
                "generations": usage_totals.c.generations + 1,
                "updated_at": func.now(),
            },
        )
    )


def usage(conn: Connection, tenant_id: str, period: str) -> Row | None:
    return conn.execute(
        select(usage_totals).where(usage_totals.c.tenant_id == tenant_id, usage_totals.c.period == period)
    ).first()


def period_generations(conn: Connection, period: str) -> int:
    return int(
        conn.execute(
            select(func.coalesce(func.sum(usage_totals.c.generations), 0)).where(usage_totals.c.period == period)
        ).scalar()
    )
