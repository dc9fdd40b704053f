"""GenerationCompleted → a provenance record (idempotent upsert, inside the consumer's transaction)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Connection

from kit.events.envelope import Event
from services.watermark.storage import repository as repo
from timbre.v1 import events_pb2


def on_generation_completed(conn: Connection, event: Event) -> None:
    payload: events_pb2.GenerationCompleted = event.payload
    repo.record(
        conn,
        generation_id=payload.generation_id,
        tenant_id=payload.tenant_id,
        voice_id=payload.voice_id,
        user_id=payload.user_id,
        api_version=payload.api_version,
        model=payload.model,
        source="synthesis",
        created_at=event.envelope.occurred_at.ToDatetime(tzinfo=UTC),
    )


HANDLERS = {events_pb2.GenerationCompleted.DESCRIPTOR.full_name: on_generation_completed}
