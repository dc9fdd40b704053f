"""Handlers: each runs inside the consumer's transaction, next to the inbox mark. They translate the
event into domain terms and hand it to the service layer; the ledger works on the same connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection

from kit.events.consumer import Handler
from kit.events.envelope import Event
from kit.grpc.convert import TIER_NAMES
from services.billing.domain.usage import Account, Usage
from services.billing.service_layer import usage
from services.billing.service_layer.ports import Ledger
from services.billing.storage.repository import SqlLedger
from timbre.v1 import events_pb2


def account_of(payload: events_pb2.TenantCreated) -> Account:
    return Account(payload.tenant_id, payload.name, TIER_NAMES.get(payload.tier, "free"))


def usage_of(event: Event) -> Usage:
    payload = event.payload
    assert isinstance(payload, events_pb2.UsageRecorded)
    return Usage(
        tenant_id=payload.tenant_id,
        occurred_at=event.envelope.occurred_at.ToDatetime(tzinfo=UTC),
        characters=payload.characters,
        audio_seconds=payload.audio_seconds,
        compute_seconds=payload.compute_seconds,
    )


def handlers(ledger_of: Callable[[Connection], Ledger]) -> dict[str, Handler]:
    """The handlers by event type, over the ledger that `ledger_of` opens on the consumer's connection."""

    def on_tenant_created(conn: Connection, event: Event) -> None:
        assert isinstance(event.payload, events_pb2.TenantCreated)
        usage.open_account(ledger_of(conn), account_of(event.payload))

    def on_usage_recorded(conn: Connection, event: Event) -> None:
        usage.record_usage(ledger_of(conn), usage_of(event))

    return {
        events_pb2.TenantCreated.DESCRIPTOR.full_name: on_tenant_created,
        events_pb2.UsageRecorded.DESCRIPTOR.full_name: on_usage_recorded,
    }


HANDLERS = handlers(SqlLedger)
