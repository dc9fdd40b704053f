"""The audit log's use cases: append an entry in the action's own transaction; let a tenant read its log.

There is deliberately no use case that changes or removes an entry (the database refuses it too).
"""

from __future__ import annotations

from kit.errors import InvalidArgument
from kit.ids import is_uuid
from kit.paging import Cursor, Page, PageRequest, page_of
from services.embedding.domain.audit import Actor, AuditEvent
from services.embedding.service_layer.ports import Transaction, UnitOfWork


def record(
    tx: Transaction,
    tenant_id: str,
    action: str,
    actor: Actor,
    voice_id: str | None = None,
    consent_id: str | None = None,
    **detail: object,
) -> None:
    """One entry, staged in `tx`: it commits with the action or not at all."""
    tx.audit.append(
        AuditEvent(
            tenant_id=tenant_id,
            action=action,
            actor=actor,
            voice_id=voice_id,
            consent_id=consent_id,
            detail={k: str(v) for k, v in detail.items() if v is not None and v != ""},
        )
    )


class AuditTrail:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def list(self, tenant_id: str, page: PageRequest, voice_id: str = "") -> Page[AuditEvent]:
        """The tenant's entries, newest first; another tenant's voice id simply matches nothing."""
        if voice_id and not is_uuid(voice_id):
            raise InvalidArgument("voice_id must be a voice id", field="voice_id")
        if page.after is not None and not page.after.id.isdigit():
            raise InvalidArgument("invalid page_token", field="page_token")
        with self.uow.read() as tx:
            events = tx.audit.list(tenant_id, page, voice_id or None)
        return page_of(events, page, lambda e: Cursor(_at(e), str(e.event_id)))


def _at(event: AuditEvent):
    assert event.at is not None
    return event.at
