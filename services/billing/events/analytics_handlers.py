"""The analytics consumer's handlers: each runs inside the consumer's transaction, next to the inbox mark
(so a redelivered or replayed event changes nothing), translates the event into a roll-up contribution and
hands it to the service layer. Other event types on these topics have no handler and are skipped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection

from kit.events.consumer import Handler
from kit.events.envelope import Event
from services.billing.domain.analytics import Rollup, RollupKey, day_of, failed, succeeded
from services.billing.service_layer import analytics
from services.billing.service_layer.analytics_ports import Rollups
from services.billing.storage.analytics import SqlRollups
from timbre.v1 import events_pb2

CONSUMER_NAME = "billing-analytics"


def _key(event: Event, tenant_id: str, voice_id: str, language: str, model: str) -> RollupKey:
    occurred_at = event.envelope.occurred_at.ToDatetime(tzinfo=UTC)
    return RollupKey(tenant_id or event.envelope.tenant_id, day_of(occurred_at), voice_id, language, model)


def usage_contribution(event: Event) -> Rollup:
    payload = event.payload
    assert isinstance(payload, events_pb2.UsageRecorded)
    return succeeded(
        _key(event, payload.tenant_id, payload.voice_id, payload.language, payload.model),
        characters=payload.characters,
        audio_seconds=payload.audio_seconds,
        compute_seconds=payload.compute_seconds,
        first_chunk_seconds=payload.first_chunk_seconds,
        total_seconds=payload.total_seconds,
    )


def failure_contribution(event: Event) -> Rollup:
    payload = event.payload
    assert isinstance(payload, events_pb2.GenerationFailed)
    return failed(_key(event, payload.tenant_id, payload.voice_id, payload.language, payload.model))


def handlers(rollups_of: Callable[[Connection], Rollups]) -> dict[str, Handler]:
    """The handlers by event type, over the roll-ups that `rollups_of` opens on the consumer's connection."""

    def on_usage_recorded(conn: Connection, event: Event) -> None:
        analytics.record(rollups_of(conn), usage_contribution(event))

    def on_generation_failed(conn: Connection, event: Event) -> None:
        analytics.record(rollups_of(conn), failure_contribution(event))

    return {
        events_pb2.UsageRecorded.DESCRIPTOR.full_name: on_usage_recorded,
        events_pb2.GenerationFailed.DESCRIPTOR.full_name: on_generation_failed,
    }


HANDLERS = handlers(SqlRollups)
