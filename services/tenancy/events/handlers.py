"""Handlers: each runs inside the consumer's transaction, next to the inbox mark. They translate the
event into domain terms and hand it to the service layer, on a transaction joined to that connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection

from kit.errors import InvalidArgument
from kit.events.consumer import Handler
from kit.events.envelope import Event
from services.tenancy.billing_codes import BILLING_STATE_NAMES
from services.tenancy.domain.billing import BillingVerdict
from services.tenancy.service_layer import billing, quotas
from services.tenancy.service_layer.ports import Transaction
from timbre.v1 import events_pb2

CONSUMER_NAME = "tenancy-billing"
# Usage gets a consumer (group and inbox name) of its own: its volume is every generation's, and a
# suspension must not wait behind it.
USAGE_CONSUMER_NAME = "tenancy-usage"


def verdict_of(event: Event) -> BillingVerdict:
    payload = event.payload
    assert isinstance(payload, events_pb2.TenantBillingStateChanged)
    state = BILLING_STATE_NAMES.get(payload.state)
    if state is None:  # UNSPECIFIED or a state newer than this code: dead-letter rather than guess
        raise InvalidArgument(f"billing state {payload.state} is not one tenancy knows")
    return BillingVerdict(
        tenant_id=payload.tenant_id,
        state=state,
        reason=payload.reason,
        decided_at=event.envelope.occurred_at.ToDatetime(tzinfo=UTC),
        stripe_event_id=payload.stripe_event_id,
    )


def handlers(transaction_of: Callable[[Connection], Transaction]) -> dict[str, Handler]:
    """The handlers by event type, over the transaction that `transaction_of` opens on the consumer's connection."""

    def on_billing_state_changed(conn: Connection, event: Event) -> None:
        billing.apply_verdict(transaction_of(conn), verdict_of(event))

    return {events_pb2.TenantBillingStateChanged.DESCRIPTOR.full_name: on_billing_state_changed}


def usage_handlers(transaction_of: Callable[[Connection], Transaction]) -> dict[str, Handler]:
    """UsageRecorded settles the reservation it names (see `quotas.settle`)."""

    def on_usage_recorded(conn: Connection, event: Event) -> None:
        payload = event.payload
        assert isinstance(payload, events_pb2.UsageRecorded)
        if payload.reservation_id:  # usage recorded before events carried it: nothing to settle
            quotas.settle(transaction_of(conn), payload.reservation_id, payload.characters)

    return {events_pb2.UsageRecorded.DESCRIPTOR.full_name: on_usage_recorded}
