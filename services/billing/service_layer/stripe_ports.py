"""What billing's Stripe use cases call outside themselves. Adapters: `services.billing.adapters.stripe_api`
(the official SDK) and `services.billing.storage.stripe_ledger` (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from google.protobuf.message import Message

from kit.events.topics import TopicSpec
from kit.paging import Cursor
from services.billing.domain.billing_state import Invoice, Standing
from services.billing.domain.metering import DeadLetter, MeterEvent, StripeAnswer
from services.billing.domain.plans import Plan
from services.billing.domain.stripe_account import StripeAccount


class StripeCallFailed(Exception):
    """A customer/subscription/catalog call that did not succeed; `answer.verdict` says retry or dead."""

    def __init__(self, answer: StripeAnswer) -> None:
        super().__init__(answer.detail)
        self.answer = answer


@dataclass(frozen=True)
class PlanPrices:
    monthly_price_id: str
    metered_price_id: str


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class StripeEvent:
    """A webhook event whose signature checked out."""

    event_id: str
    type: str
    created: datetime
    customer_id: str
    tenant_id: str  # from the object's metadata, when Stripe carried it
    data: dict[str, Any]


class StripeApi(Protocol):
    def create_meter(self, event_name: str, idempotency_key: str) -> str: ...

    def create_plan_prices(self, plan: Plan, meter_id: str, idempotency_key: str) -> PlanPrices: ...

    def create_customer(self, tenant_id: str, name: str, idempotency_key: str) -> str: ...

    def create_subscription(
        self, customer_id: str, tenant_id: str, prices: PlanPrices, idempotency_key: str
    ) -> Subscription: ...

    def change_subscription(
        self, subscription: Subscription, prices: PlanPrices, idempotency_key: str
    ) -> Subscription: ...

    def send_meter_event(self, event_name: str, event: MeterEvent, customer_id: str) -> StripeAnswer:
        """Never raises for Stripe's answers: they come back as a verdict."""
        ...

    def verify_webhook(self, payload: bytes, signature: str) -> StripeEvent:
        """Raises InvalidArgument for a bad signature or payload."""
        ...


class StripeLedger(Protocol):
    """Billing's record of Stripe, within one transaction."""

    # catalog
    def catalog_id(self, key: str) -> str | None: ...

    def save_catalog_id(self, key: str, stripe_id: str) -> None: ...

    # accounts
    def accounts_to_sync(self, limit: int) -> list[StripeAccount]:
        """Accounts whose customer or subscription is missing or made for another tier, locked for
        this transaction (others skip them)."""
        ...

    def account(self, tenant_id: str) -> StripeAccount | None: ...

    def account_by_customer(self, customer_id: str) -> StripeAccount | None: ...

    def save_customer(self, tenant_id: str, customer_id: str) -> None: ...

    def set_tier(self, tenant_id: str, tier: str) -> None: ...

    def save_subscription(self, tenant_id: str, subscription: Subscription, tier: str) -> None: ...

    def block_sync(self, tenant_id: str) -> None: ...

    def save_standing(self, tenant_id: str, standing: Standing) -> None: ...

    def past_due(self) -> list[StripeAccount]: ...

    # meter events
    def enqueue(self, event: MeterEvent) -> None:
        """Once per identifier: a second enqueue of the same identifier changes nothing."""
        ...

    def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[tuple[MeterEvent, str | None]]:
        """Pending events due now, leased to this worker, with their tenant's Stripe customer (None: none yet)."""
        ...

    def mark_sent(self, identifier: str, answer: StripeAnswer, now: datetime) -> None: ...

    def mark_retry(self, identifier: str, answer: StripeAnswer, next_at: datetime) -> None: ...

    def mark_dead(self, event: MeterEvent, answer: StripeAnswer) -> None: ...

    def reported_characters(self, tenant_id: str, start: datetime, end: datetime) -> int: ...

    def pending_count(self) -> int: ...

    # dead letters
    def add_dead_letter(self, identifier: str, tenant_id: str, kind: str, answer: StripeAnswer) -> None: ...

    def dead_letters(self, after: Cursor | None, limit: int) -> list[DeadLetter]: ...

    def replay(self, identifiers: Sequence[str]) -> int: ...

    # webhooks and invoices
    def first_time(self, event: StripeEvent, tenant_id: str | None) -> bool:
        """Record the event; False when it was applied before."""
        ...

    def save_invoice(self, invoice: Invoice) -> None: ...

    def invoices(self, tenant_id: str, limit: int) -> list[Invoice]: ...


class Events(Protocol):
    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str: ...


class StripeWork(Protocol):
    @property
    def ledger(self) -> StripeLedger: ...

    @property
    def events(self) -> Events: ...


class StripeUnitOfWork(Protocol):
    def begin(self) -> AbstractContextManager[StripeWork]: ...

    def read(self) -> AbstractContextManager[StripeWork]: ...
