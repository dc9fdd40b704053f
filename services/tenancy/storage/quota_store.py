"""Quota reservations in PostgreSQL.

Atomicity: every reservation first locks its tenant row (SELECT ... FOR UPDATE), so concurrent
reservations of one tenant serialise; the snapshot they check is then exact and never oversold.
Expired reservations simply stop counting (expires_at > now()); a sweep marks them 'expired'.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.tenancy.domain.quota import UsageSnapshot
from services.tenancy.storage.tables import reservations, usage_periods, voice_slots


def _active(tenant_id: str):
    return and_(
        reservations.c.tenant_id == tenant_id,
        reservations.c.status == "active",
        reservations.c.expires_at > func.now(),
    )


def snapshot(conn: Connection, tenant_id: str, period: str) -> UsageSnapshot:
    """Used and reserved amounts in one round trip (this runs on every reservation and /v1/me)."""
    active = select(reservations).where(_active(tenant_id)).subquery()
    row = conn.execute(
        select(
            select(usage_periods.c.characters_used)
            .where(usage_periods.c.tenant_id == tenant_id, usage_periods.c.period == period)
            .scalar_subquery(),
            select(func.sum(active.c.characters)).where(active.c.period == period).scalar_subquery(),
            # Voice-profile and job reservations count whatever their period.
            select(func.sum(active.c.voice_profiles)).scalar_subquery(),
            select(func.sum(active.c.job_slots)).scalar_subquery(),
            select(func.count()).where(voice_slots.c.tenant_id == tenant_id).scalar_subquery(),
        )
    ).one()
    used, reserved, profiles, jobs, slots = (int(v or 0) for v in row)
    return UsageSnapshot(
        characters_used=used, characters_reserved=reserved, voice_profiles_used=slots + profiles, jobs_running=jobs
    )


def find_by_idempotency(conn: Connection, tenant_id: str, key: str) -> Row | None:
    return conn.execute(
        select(reservations).where(reservations.c.tenant_id == tenant_id, reservations.c.idempotency_key == key)
    ).first()


def add(conn: Connection, **values) -> Row:
    return conn.execute(insert(reservations).values(**values).returning(reservations)).one()


def get_for_update(conn: Connection, reservation_id: str) -> Row | None:
    return conn.execute(select(reservations).where(reservations.c.id == reservation_id).with_for_update()).first()


def finish(conn: Connection, reservation_id: str, status: str, characters: int | None = None) -> None:
    values = {"status": status, "finished_at": func.now()}
    if characters is not None:
        values["characters"] = characters
    conn.execute(update(reservations).where(reservations.c.id == reservation_id).values(**values))


def add_characters(conn: Connection, tenant_id: str, period: str, characters: int) -> None:
    statement = pg_insert(usage_periods).values(tenant_id=tenant_id, period=period, characters_used=characters)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[usage_periods.c.tenant_id, usage_periods.c.period],
            set_={"characters_used": usage_periods.c.characters_used + characters},
        )
    )


def add_voice_slot(conn: Connection, tenant_id: str, voice_id: str) -> None:
    conn.execute(pg_insert(voice_slots).values(tenant_id=tenant_id, voice_id=voice_id).on_conflict_do_nothing())


def remove_voice_slot(conn: Connection, tenant_id: str, voice_id: str) -> int:
    return conn.execute(
        voice_slots.delete().where(voice_slots.c.tenant_id == tenant_id, voice_slots.c.voice_id == voice_id)
    ).rowcount


def sweep_expired(conn: Connection, now: datetime | None = None) -> int:
    return conn.execute(
        update(reservations)
        .where(reservations.c.status == "active", reservations.c.expires_at <= (now or func.now()))
        .values(status="expired", finished_at=func.now())
    ).rowcount
