"""Handlers: each runs inside the consumer's transaction, next to the inbox mark."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Connection

from kit.events.envelope import Event
from kit.grpc.convert import TIER_NAMES
from kit.periods import period_of
from services.billing.storage import repository as repo
from timbre.v1 import events_pb2


def on_tenant_created(conn: Connection, event: Event) -> None:
    payload: events_pb2.TenantCreated = event.payload
    repo.upsert_account(conn, payload.tenant_id, payload.name, TIER_NAMES.get(payload.tier, "free"))


def on_usage_recorded(conn: Connection, event: Event) -> None:
    payload: events_pb2.UsageRecorded = event.payload
    if payload.characters < 0 or payload.audio_seconds < 0 or payload.compute_seconds < 0:
        raise ValueError("usage amounts must not be negative")
    # Usage belongs to the period in which it occurred, not the one in which it was consumed.
    period = period_of(event.envelope.occurred_at.ToDatetime(tzinfo=UTC))
    repo.add_usage(conn, payload.tenant_id, period, payload.characters, payload.audio_seconds, payload.compute_seconds)


HANDLERS = {
    events_pb2.TenantCreated.DESCRIPTOR.full_name: on_tenant_created,
    events_pb2.UsageRecorded.DESCRIPTOR.full_name: on_usage_recorded,
}
