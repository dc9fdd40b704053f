"""Quota reservations in PostgreSQL.

Atomicity: every reservation first locks its tenant row (SELECT ... FOR UPDATE), so concurrent
reservations of one tenant serialise; the snapshot they check is then exact and never oversold.
Expired reservations simply stop counting (expires_at > now); a sweep marks them 'expired'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.tenancy.domain.quota import UsageSnapshot
from services.tenancy.domain.reservations import Reservation
from services.tenancy.storage.tables import reservations, usage_periods, voice_slots


def _active(tenant_id: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        reservations.c.tenant_id == tenant_id,
        reservations.c.status == "active",
        reservations.c.expires_at > now,
    )


def _reservation(row: Any) -> Reservation:
    return Reservation(
        id=row.id,
        tenant_id=row.tenant_id,
        period=row.period,
        characters=row.characters,
        voice_profiles=row.voice_profiles,
        job_slots=row.job_slots,
        expires_at=row.expires_at,
        voice_id=row.voice_id,
        idempotency_key=row.idempotency_key,
        status=row.status,
    )


class SqlReservations:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def snapshot(self, tenant_id: str, period: str, now: datetime) -> UsageSnapshot:
        """Used and reserved amounts in one round trip (this runs on every reservation and /v1/me)."""
        active = select(reservations).where(_active(tenant_id, now)).subquery()
        row = self.conn.execute(
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

    def find_by_idempotency(self, tenant_id: str, key: str) -> Reservation | None:
        row = self.conn.execute(
            select(reservations).where(reservations.c.tenant_id == tenant_id, reservations.c.idempotency_key == key)
        ).first()
        return _reservation(row) if row else None

    def add(self, reservation: Reservation) -> Reservation:
        row = self.conn.execute(
            insert(reservations)
            .values(
                id=reservation.id,
                tenant_id=reservation.tenant_id,
                period=reservation.period,
                characters=reservation.characters,
                voice_profiles=reservation.voice_profiles,
                job_slots=reservation.job_slots,
                voice_id=reservation.voice_id,
                idempotency_key=reservation.idempotency_key,
                expires_at=reservation.expires_at,
            )
            .returning(reservations)
        ).one()
        return _reservation(row)

    def get_for_update(self, reservation_id: str) -> Reservation | None:
        row = self.conn.execute(
            select(reservations).where(reservations.c.id == reservation_id).with_for_update()
        ).first()
        return _reservation(row) if row else None

    def finish(self, reservation_id: str, status: str, characters: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "finished_at": func.now()}
        if characters is not None:
            values["characters"] = characters
        self.conn.execute(update(reservations).where(reservations.c.id == reservation_id).values(**values))

    def add_characters(self, tenant_id: str, period: str, characters: int) -> None:
        statement = pg_insert(usage_periods).values(tenant_id=tenant_id, period=period, characters_used=characters)
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[usage_periods.c.tenant_id, usage_periods.c.period],
                set_={"characters_used": usage_periods.c.characters_used + characters},
            )
        )

    def add_voice_slot(self, tenant_id: str, voice_id: str) -> None:
        self.conn.execute(
            pg_insert(voice_slots).values(tenant_id=tenant_id, voice_id=voice_id).on_conflict_do_nothing()
        )

    def remove_voice_slot(self, tenant_id: str, voice_id: str) -> int:
        return self.conn.execute(
            voice_slots.delete().where(voice_slots.c.tenant_id == tenant_id, voice_slots.c.voice_id == voice_id)
        ).rowcount

    def sweep_expired(self, now: datetime) -> int:
        return self.conn.execute(
            update(reservations)
            .where(reservations.c.status == "active", reservations.c.expires_at <= now)
            .values(status="expired", finished_at=func.now())
        ).rowcount
