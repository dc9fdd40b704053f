"""Reads and writes of the synthesis schema (called inside a unit of work)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects.postgresql import insert

from services.synthesis.domain.voices import VoiceState
from services.synthesis.storage.tables import (
    generation_ids,
    generations,
    jobs,
    voices,
    webhook_deliveries,
    webhooks,
)


def now() -> datetime:
    return datetime.now(UTC)


# --- voices ------------------------------------------------------------------------------------


def voice(conn: Connection, voice_id: str, for_update: bool = False) -> VoiceState | None:
    query = select(voices).where(voices.c.voice_id == voice_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        return None
    return VoiceState(
        row.voice_id,
        row.tenant_id,
        row.status,
        row.artifact_key,
        row.engine,
        row.consent_id,
        row.consent_expires_at,
        row.failure_reason,
        row.failure_detail,
    )


def upsert_voice(conn: Connection, voice_id: str, tenant_id: str, **values) -> None:
    """Create the voice's row or change the given columns (events may arrive for a voice not seen yet)."""
    values["updated_at"] = now()
    conn.execute(
        insert(voices)
        .values(voice_id=voice_id, tenant_id=tenant_id, **{"status": "building", **values})
        .on_conflict_do_update(index_elements=["voice_id"], set_=values)
    )


# --- generations -------------------------------------------------------------------------------


def next_generation_id(conn: Connection) -> int:
    return int(conn.execute(generation_ids.next_value()).scalar())


def add_generation(conn: Connection, **values) -> None:
    conn.execute(insert(generations).values(**values))


def generation_of_job(conn: Connection, job_id: str) -> Row | None:
    return conn.execute(select(generations).where(generations.c.job_id == job_id)).first()


# --- jobs --------------------------------------------------------------------------------------


def add_job(conn: Connection, **values) -> Row:
    return conn.execute(insert(jobs).values(**values).returning(*jobs.c)).one()


def job(conn: Connection, job_id: str, tenant_id: str | None = None, for_update: bool = False) -> Row | None:
    query = select(jobs).where(jobs.c.job_id == job_id)
    if tenant_id is not None:
        query = query.where(jobs.c.tenant_id == tenant_id)
    return conn.execute(query.with_for_update() if for_update else query).first()


def job_by_key(conn: Connection, tenant_id: str, idempotency_key: str) -> Row | None:
    return conn.execute(
        select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.idempotency_key == idempotency_key)
    ).first()


def set_job(conn: Connection, job_id: str, **values) -> Row:
    return conn.execute(
        update(jobs).where(jobs.c.job_id == job_id).values(updated_at=now(), **values).returning(*jobs.c)
    ).one()


def list_jobs(conn: Connection, tenant_id: str, state: str | None, after: tuple | None, limit: int) -> list[Row]:
    query = select(jobs).where(jobs.c.tenant_id == tenant_id)
    if state:
        query = query.where(jobs.c.state == state)
    if after:
        query = query.where((jobs.c.created_at, jobs.c.job_id) < after)
    return list(conn.execute(query.order_by(jobs.c.created_at.desc(), jobs.c.job_id.desc()).limit(limit)))


# --- webhooks ----------------------------------------------------------------------------------


def add_webhook(conn: Connection, **values) -> Row:
    return conn.execute(insert(webhooks).values(**values).returning(*webhooks.c)).one()


def webhook(conn: Connection, webhook_id: str, tenant_id: str | None = None, for_update: bool = False) -> Row | None:
    query = select(webhooks).where(webhooks.c.webhook_id == webhook_id, webhooks.c.deleted_at.is_(None))
    if tenant_id is not None:
        query = query.where(webhooks.c.tenant_id == tenant_id)
    return conn.execute(query.with_for_update() if for_update else query).first()


def list_webhooks(conn: Connection, tenant_id: str, after: tuple | None, limit: int) -> list[Row]:
    query = select(webhooks).where(webhooks.c.tenant_id == tenant_id, webhooks.c.deleted_at.is_(None))
    if after:
        query = query.where((webhooks.c.created_at, webhooks.c.webhook_id) < after)
    return list(conn.execute(query.order_by(webhooks.c.created_at.desc(), webhooks.c.webhook_id.desc()).limit(limit)))


def active_webhooks(conn: Connection, tenant_id: str, event: str) -> list[Row]:
    return list(
        conn.execute(
            select(webhooks).where(
                webhooks.c.tenant_id == tenant_id,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.disabled.is_(False),
                webhooks.c.events.any(event),
            )
        )
    )


def set_webhook(conn: Connection, webhook_id: str, **values) -> None:
    conn.execute(update(webhooks).where(webhooks.c.webhook_id == webhook_id).values(**values))


def add_delivery(conn: Connection, **values) -> None:
    conn.execute(insert(webhook_deliveries).values(**values))


def due_deliveries(conn: Connection, limit: int) -> list[Row]:
    """Deliveries whose time has come, locked so that two workers never send the same one."""
    return list(
        conn.execute(
            select(webhook_deliveries)
            .where(
                webhook_deliveries.c.delivered_at.is_(None),
                webhook_deliveries.c.abandoned_at.is_(None),
                webhook_deliveries.c.next_attempt_at <= now(),
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def set_delivery(conn: Connection, delivery_id: str, **values) -> None:
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == delivery_id).values(**values))
