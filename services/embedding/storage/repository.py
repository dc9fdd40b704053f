"""Voices, samples, consent challenges and consents."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Row, func, insert, select, update

from kit.ids import is_uuid
from services.embedding.storage.tables import challenges, consents, samples, voices

VISIBLE = ("processing", "ready", "rejected", "disabled")


def add_voice(conn: Connection, **values) -> Row:
    return conn.execute(insert(voices).values(**values).returning(voices)).one()


def add_sample(conn: Connection, **values) -> None:
    conn.execute(insert(samples).values(**values))


def voice(conn: Connection, voice_id: str, tenant_id: str | None = None, for_update: bool = False) -> Row | None:
    """A voice that is not deleted; with tenant_id, only if it belongs to that tenant. Malformed ids: None."""
    if not is_uuid(voice_id):
        return None
    query = select(voices).where(voices.c.id == voice_id, voices.c.status.in_(VISIBLE))
    if tenant_id is not None:
        query = query.where(voices.c.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).first()


def voice_by_idempotency(conn: Connection, tenant_id: str, key: str) -> Row | None:
    return conn.execute(
        select(voices).where(
            voices.c.tenant_id == tenant_id, voices.c.idempotency_key == key, voices.c.status.in_(VISIBLE)
        )
    ).first()


def list_voices(conn: Connection, tenant_id: str, after: tuple[datetime, str] | None, limit: int) -> list[Row]:
    query = select(voices).where(voices.c.tenant_id == tenant_id, voices.c.status.in_(VISIBLE))
    if after is not None:
        query = query.where((voices.c.created_at, voices.c.id) > after)
    return list(conn.execute(query.order_by(voices.c.created_at, voices.c.id).limit(limit)))


def set_status(conn: Connection, voice_id: str, status: str, reason: str = "", detail: str = "", **values) -> None:
    conn.execute(
        update(voices)
        .where(voices.c.id == voice_id)
        .values(status=status, status_reason=reason, status_detail=detail, updated_at=func.now(), **values)
    )


def sample_rows(conn: Connection, voice_id: str) -> list[Row]:
    return list(conn.execute(select(samples).where(samples.c.voice_id == voice_id).order_by(samples.c.index)))


def embedding_of(row: Row) -> np.ndarray | None:
    return np.frombuffer(row.embedding, dtype=np.float32).copy() if row.embedding else None


def add_challenge(conn: Connection, **values) -> Row:
    return conn.execute(insert(challenges).values(**values).returning(challenges)).one()


def challenge(conn: Connection, challenge_id: str, voice_id: str, for_update: bool = True) -> Row | None:
    query = select(challenges).where(challenges.c.id == challenge_id, challenges.c.voice_id == voice_id)
    return conn.execute(query.with_for_update() if for_update else query).first()


def use_challenge(conn: Connection, challenge_id: str) -> None:
    conn.execute(update(challenges).where(challenges.c.id == challenge_id).values(used_at=func.now()))


def active_consent(conn: Connection, voice_id: str) -> Row | None:
    return conn.execute(
        select(consents)
        .where(consents.c.voice_id == voice_id, consents.c.revoked_at.is_(None), consents.c.expires_at > func.now())
        .order_by(consents.c.created_at.desc())
    ).first()


def latest_consent(conn: Connection, voice_id: str) -> Row | None:
    return conn.execute(
        select(consents).where(consents.c.voice_id == voice_id).order_by(consents.c.created_at.desc())
    ).first()


def add_consent(conn: Connection, **values) -> Row:
    return conn.execute(insert(consents).values(**values).returning(consents)).one()


def revoke_consents(conn: Connection, voice_id: str) -> list[Row]:
    return list(
        conn.execute(
            update(consents)
            .where(consents.c.voice_id == voice_id, consents.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(consents)
        )
    )
