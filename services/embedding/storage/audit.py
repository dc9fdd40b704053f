"""The audit log's table (created by migration 0003, append-only by trigger) and its adapter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Connection, DateTime, Row, String, Table, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB

from kit.paging import PageRequest
from services.embedding.domain.audit import Actor, AuditEvent
from services.embedding.storage.tables import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True),  # GENERATED ALWAYS AS IDENTITY: never written by us
    Column("tenant_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("action", String(40), nullable=False),
    Column("voice_id", String(36)),
    Column("consent_id", String(36)),
    Column("actor_kind", String(16), nullable=False, server_default=""),
    Column("actor_key_id", String(64), nullable=False, server_default=""),
    Column("actor_address", String(64), nullable=False, server_default=""),
    Column("request_id", String(64), nullable=False, server_default=""),
    Column("detail", JSONB, nullable=False),
)

# Actor fields without a column of their own travel in `detail` under these keys.
_ACTOR_DETAIL = {"address_source": "_address_source", "peer": "_peer"}


def _row(event: AuditEvent) -> dict[str, Any]:
    actor = event.actor
    detail = {**event.detail}
    for name, key in _ACTOR_DETAIL.items():
        if getattr(actor, name):
            detail[key] = getattr(actor, name)
    return {
        "tenant_id": event.tenant_id,
        "action": event.action,
        "voice_id": event.voice_id,
        "consent_id": event.consent_id,
        "actor_kind": actor.kind[:16],
        "actor_key_id": actor.key_id[:64],
        "actor_address": actor.address[:64],
        "request_id": actor.request_id[:64],
        "detail": detail,
    }


def _event(row: Row) -> AuditEvent:
    detail = {str(k): str(v) for k, v in (row.detail or {}).items()}
    extra = {name: detail.pop(key, "") for name, key in _ACTOR_DETAIL.items()}
    actor = Actor(row.actor_kind, row.actor_key_id, row.actor_address, request_id=row.request_id, **extra)
    return AuditEvent(row.tenant_id, row.action, actor, row.voice_id, row.consent_id, detail, row.id, row.at)


class SqlAuditLog:
    """Appends in the caller's transaction; reads a tenant's entries newest first."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append(self, event: AuditEvent) -> None:
        self.conn.execute(insert(audit_log).values(**_row(event)))

    def list(self, tenant_id: str, page: PageRequest, voice_id: str | None = None) -> list[AuditEvent]:
        query = select(audit_log).where(audit_log.c.tenant_id == tenant_id)
        if voice_id:
            query = query.where(audit_log.c.voice_id == voice_id)
        if page.after is not None:
            query = query.where(audit_log.c.id < int(page.after.id))
        rows = self.conn.execute(query.order_by(audit_log.c.id.desc()).limit(page.fetch))
        return [_event(row) for row in rows]
