"""GenerationCompleted → a provenance record, inside the consumer's transaction (its inbox mark and the
registry's idempotent insert both absorb redeliveries). Handlers translate and delegate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection

from kit.events.consumer import Handler
from kit.events.envelope import Event
from services.watermark.domain.provenance import Record
from services.watermark.service_layer import provenance
from services.watermark.service_layer.ports import ProvenanceRegistry
from services.watermark.storage.repository import SqlProvenanceRegistry
from timbre.v1 import events_pb2


def record_of(event: Event) -> Record:
    payload = event.payload
    assert isinstance(payload, events_pb2.GenerationCompleted)
    return Record(
        generation_id=payload.generation_id,
        created_at=event.envelope.occurred_at.ToDatetime(tzinfo=UTC),
        tenant_id=payload.tenant_id,
        voice_id=payload.voice_id,
        user_id=payload.user_id,
        api_version=payload.api_version,
        model=payload.model,
    )


def handlers(registry_of: Callable[[Connection], ProvenanceRegistry]) -> dict[str, Handler]:
    """The handlers by event type, over the registry that `registry_of` opens on the consumer's connection."""

    def on_generation_completed(conn: Connection, event: Event) -> None:
        provenance.record_generation(registry_of(conn), record_of(event))

    return {events_pb2.GenerationCompleted.DESCRIPTOR.full_name: on_generation_completed}


HANDLERS = handlers(SqlProvenanceRegistry)
