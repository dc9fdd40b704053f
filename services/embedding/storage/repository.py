"""The SQLAlchemy adapters of the service layer's ports: the voice repository (voices, samples, consent
challenges, consents) and the unit of work that hands it out with the outbox, on one connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Row, func, insert, select, tuple_, update

from kit.crypto.sql import SqlDataKeys
from kit.db.unit_of_work import SqlUnitOfWork as UnitOfWork
from kit.events.outbox import BoundOutbox, Outbox
from kit.ids import is_uuid
from kit.paging import PageRequest
from services.embedding.domain.voice import Challenge, Consent, Sample, Voice
from services.embedding.storage.audit import SqlAuditLog
from services.embedding.storage.tables import challenges, consents, data_keys, samples, voices

VISIBLE = ("processing", "ready", "rejected", "disabled")
# The columns an analysis, a build verdict, a revocation or a deletion changes.
_VOICE_STATE = (
    "status",
    "status_reason",
    "status_detail",
    "progress",
    "speech_seconds",
    "encoder",
    "duplicate_of",
)


def _voice(row: Row) -> Voice:
    values = row._asdict()
    blob = values.pop("embedding")
    return Voice(**values, embedding=np.frombuffer(blob, dtype=np.float32).copy() if blob else None)


def _embedding_bytes(voice: Voice) -> bytes | None:
    return None if voice.embedding is None else voice.embedding.astype(np.float32).tobytes()


def _written(record: Any, *store_set: str) -> dict[str, Any]:
    """A dataclass's column values, less those the database sets itself (when a row was written)."""
    return {k: v for k, v in vars(record).items() if k not in store_set}


def _consent(row: Row) -> Consent:
    values = row._asdict()
    return Consent(**{**values, "prohibited_uses": list(values["prohibited_uses"])})


class SqlVoiceRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- voices ------------------------------------------------------------------------------------

    def add_voice(self, voice: Voice) -> Voice:
        values = _written(voice, "created_at", "updated_at", "embedding")
        query = insert(voices).values(**values, embedding=_embedding_bytes(voice)).returning(voices)
        return _voice(self.conn.execute(query).one())

    def save_voice(self, voice: Voice) -> None:
        values = {name: getattr(voice, name) for name in _VOICE_STATE}
        self.conn.execute(
            update(voices)
            .where(voices.c.id == voice.id)
            .values(**values, embedding=_embedding_bytes(voice), updated_at=func.now())
        )

    def voice(
        self, voice_id: str, tenant_id: str | None = None, for_update: bool = False, include_deleted: bool = False
    ) -> Voice | None:
        if not is_uuid(voice_id):
            return None
        query = select(voices).where(voices.c.id == voice_id)
        if not include_deleted:
            query = query.where(voices.c.status.in_(VISIBLE))
        if tenant_id is not None:
            query = query.where(voices.c.tenant_id == tenant_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _voice(row) if row else None

    def reservation_of(self, voice_id: str) -> str | None:
        if not is_uuid(voice_id):
            return None
        return self.conn.execute(select(voices.c.reservation_id).where(voices.c.id == voice_id)).scalar()

    def voice_by_idempotency(self, tenant_id: str, key: str) -> Voice | None:
        row = self.conn.execute(
            select(voices).where(
                voices.c.tenant_id == tenant_id, voices.c.idempotency_key == key, voices.c.status.in_(VISIBLE)
            )
        ).first()
        return _voice(row) if row else None

    def list_voices(self, tenant_id: str, page: PageRequest) -> list[Voice]:
        query = select(voices).where(voices.c.tenant_id == tenant_id, voices.c.status.in_(VISIBLE))
        if page.after is not None:
            query = query.where(tuple_(voices.c.created_at, voices.c.id) > tuple_(page.after.created_at, page.after.id))
        rows = self.conn.execute(query.order_by(voices.c.created_at, voices.c.id).limit(page.fetch))
        return [_voice(row) for row in rows]

    # --- samples -----------------------------------------------------------------------------------

    def add_sample(self, sample: Sample) -> None:
        self.conn.execute(insert(samples).values(**vars(sample)))

    def samples(self, voice_id: str) -> list[Sample]:
        rows = self.conn.execute(select(samples).where(samples.c.voice_id == voice_id).order_by(samples.c.index))
        return [Sample(**row._asdict()) for row in rows]

    # --- consent -----------------------------------------------------------------------------------

    def add_challenge(self, challenge: Challenge) -> Challenge:
        row = self.conn.execute(insert(challenges).values(**vars(challenge)).returning(challenges)).one()
        return Challenge(**row._asdict())

    def challenge(self, challenge_id: str, voice_id: str, for_update: bool = True) -> Challenge | None:
        query = select(challenges).where(challenges.c.id == challenge_id, challenges.c.voice_id == voice_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return Challenge(**row._asdict()) if row else None

    def use_challenge(self, challenge_id: str, at: datetime) -> None:
        self.conn.execute(update(challenges).where(challenges.c.id == challenge_id).values(used_at=at))

    def add_consent(self, consent: Consent) -> Consent:
        values = _written(consent, "created_at", "revoked_at", "owner_token")
        return _consent(self.conn.execute(insert(consents).values(**values).returning(consents)).one())

    def active_consent(self, voice_id: str, at: datetime) -> Consent | None:
        row = self.conn.execute(
            select(consents)
            .where(consents.c.voice_id == voice_id, consents.c.revoked_at.is_(None), consents.c.expires_at > at)
            .order_by(consents.c.created_at.desc())
        ).first()
        return _consent(row) if row else None

    def latest_consent(self, voice_id: str) -> Consent | None:
        row = self.conn.execute(
            select(consents).where(consents.c.voice_id == voice_id).order_by(consents.c.created_at.desc())
        ).first()
        return _consent(row) if row else None

    def consent_by_owner_token(self, token_hash: str, for_update: bool = False) -> Consent | None:
        query = select(consents).where(consents.c.owner_token_hash == token_hash)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return _consent(row) if row else None

    def set_owner_token(self, consent_id: str, token_hash: str) -> None:
        self.conn.execute(update(consents).where(consents.c.id == consent_id).values(owner_token_hash=token_hash))

    def revoke_consents(self, voice_id: str, at: datetime) -> list[Consent]:
        rows = self.conn.execute(
            update(consents)
            .where(consents.c.voice_id == voice_id, consents.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(consents)
        )
        return sorted((_consent(row) for row in rows), key=lambda c: c.created_at, reverse=True)


class SqlTransaction:
    """The repository and the outbox on one connection (so one commit covers both)."""

    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.voices = SqlVoiceRepository(conn)
        self.audit = SqlAuditLog(conn)
        self.data_keys = SqlDataKeys(conn, data_keys)
        self.outbox = BoundOutbox(conn, outbox)


class SqlUnitOfWork(UnitOfWork[SqlTransaction]):
    def __init__(self, engine: Engine, outbox: Outbox) -> None:
        super().__init__(engine, lambda conn: SqlTransaction(conn, outbox))
