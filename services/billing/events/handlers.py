"""Handlers: each runs inside the consumer's transaction, next to the inbox mark. They translate the
event into domain terms and hand it to the service layer; the ledger works on the same connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection

from kit.events.consumer import Handler
from kit.events.envelope import Event
from kit.grpc.convert import TIER_NAMES
from services.billing.domain.usage import DEFAULT_WORKER_CLASS, Account, Usage
from services.billing.service_layer import stripe_billing, usage
from services.billing.service_layer.ports import Ledger
from services.billing.service_layer.stripe_ports import StripeLedger
from services.billing.storage.repository import SqlLedger
from services.billing.storage.stripe_ledger import SqlStripeLedger
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
        worker_class=payload.worker_class or DEFAULT_WORKER_CLASS,
    )


def handlers(
    ledger_of: Callable[[Connection], Ledger], stripe_ledger_of: Callable[[Connection], StripeLedger]
) -> dict[str, Handler]:
    """The handlers by event type, over the ledgers opened on the consumer's connection."""

    def on_tenant_created(conn: Connection, event: Event) -> None:
        assert isinstance(event.payload, events_pb2.TenantCreated)
        usage.open_account(ledger_of(conn), account_of(event.payload))

    def on_tenant_tier_changed(conn: Connection, event: Event) -> None:
        payload = event.payload
        assert isinstance(payload, events_pb2.TenantTierChanged)
        stripe_billing.change_tier(stripe_ledger_of(conn), payload.tenant_id, TIER_NAMES.get(payload.tier, "free"))

    def on_usage_recorded(conn: Connection, event: Event) -> None:
        recorded = usage_of(event)
        usage.record_usage(ledger_of(conn), recorded)
        # The same transaction queues the generation's characters for Stripe (one row per generation).
        payload = event.payload
        assert isinstance(payload, events_pb2.UsageRecorded)
        stripe_billing.record_usage(
            stripe_ledger_of(conn),
            recorded.tenant_id,
            payload.generation_ref or event.envelope.event_id,
            recorded.characters,
            recorded.occurred_at,
        )

    return {
        events_pb2.TenantCreated.DESCRIPTOR.full_name: on_tenant_created,
        events_pb2.TenantTierChanged.DESCRIPTOR.full_name: on_tenant_tier_changed,
        events_pb2.UsageRecorded.DESCRIPTOR.full_name: on_usage_recorded,
    }


HANDLERS = handlers(SqlLedger, SqlStripeLedger)
