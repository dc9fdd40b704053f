"""Billing's Stripe ports in memory: a ledger, a unit of work, and a Stripe that answers as scripted and
counts what reached it by identifier (Stripe's de-duplication included)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kit.errors import InvalidArgument
from kit.paging import Cursor
from services.billing.domain.billing_state import Invoice, Standing
from services.billing.domain.metering import DeadLetter, MeterEvent, ReportStatus, StripeAnswer, Verdict
from services.billing.domain.plans import Plan
from services.billing.domain.stripe_account import StripeAccount
from services.billing.service_layer.stripe_ports import PlanPrices, StripeCallFailed, StripeEvent, Subscription


@dataclass
class Row:
    event: MeterEvent
    status: ReportStatus = ReportStatus.PENDING
    next_at: datetime | None = None
    claimed_until: datetime | None = None
    answer: StripeAnswer | None = None


@dataclass
class FakeStripeLedger:
    accounts: dict[str, StripeAccount] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    catalog: dict[str, str] = field(default_factory=dict)
    letters: dict[str, DeadLetter] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    seen_events: set[str] = field(default_factory=set)
    invoice_rows: dict[str, Invoice] = field(default_factory=dict)

    def add_account(self, tenant_id: str, tier: str = "pro", name: str = "acme") -> None:
        self.accounts[tenant_id] = StripeAccount(tenant_id, name, tier)

    def catalog_id(self, key: str) -> str | None:
        return self.catalog.get(key)

    def save_catalog_id(self, key: str, stripe_id: str) -> None:
        self.catalog.setdefault(key, stripe_id)

    def accounts_to_sync(self, limit: int) -> list[StripeAccount]:
        return [a for a in self.accounts.values() if not a.in_sync and a.tenant_id not in self.blocked][:limit]

    def account(self, tenant_id: str) -> StripeAccount | None:
        return self.accounts.get(tenant_id)

    def account_by_customer(self, customer_id: str) -> StripeAccount | None:
        return next((a for a in self.accounts.values() if a.customer_id == customer_id), None)

    def save_customer(self, tenant_id: str, customer_id: str) -> None:
        self.accounts[tenant_id] = replace(self.accounts[tenant_id], customer_id=customer_id)

    def set_tier(self, tenant_id: str, tier: str) -> None:
        self.accounts[tenant_id] = replace(self.accounts[tenant_id], tier=tier)

    def save_subscription(self, tenant_id: str, subscription: Subscription, tier: str) -> None:
        self.accounts[tenant_id] = replace(
            self.accounts[tenant_id],
            subscription_id=subscription.subscription_id,
            item_ids=subscription.item_ids,
            subscribed_tier=tier,
        )

    def block_sync(self, tenant_id: str) -> None:
        self.blocked.add(tenant_id)

    def save_standing(self, tenant_id: str, standing: Standing) -> None:
        self.accounts[tenant_id] = replace(self.accounts[tenant_id], standing=standing)

    def past_due(self) -> list[StripeAccount]:
        return [a for a in self.accounts.values() if a.standing.state.value == "past_due"]

    def enqueue(self, event: MeterEvent) -> None:
        self.rows.setdefault(event.identifier, Row(event))

    def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[tuple[MeterEvent, str | None]]:
        due = [
            row
            for row in self.rows.values()
            if row.status is ReportStatus.PENDING
            and (row.next_at is None or row.next_at <= now)
            and (row.claimed_until is None or row.claimed_until < now)
        ][:limit]
        claimed = []
        for row in due:
            row.claimed_until = now
            account = self.accounts.get(row.event.tenant_id)
            claimed.append((row.event, account.customer_id if account else None))
        return claimed

    def mark_sent(self, identifier: str, answer: StripeAnswer, now: datetime) -> None:
        row = self.rows[identifier]
        row.status, row.answer, row.claimed_until = ReportStatus.SENT, answer, None

    def mark_retry(self, identifier: str, answer: StripeAnswer, next_at: datetime) -> None:
        row = self.rows[identifier]
        attempts = row.event.attempts + (1 if answer.http_status else 0)
        row.event = replace(row.event, attempts=attempts)
        row.next_at, row.answer, row.claimed_until = next_at, answer, None

    def mark_dead(self, event: MeterEvent, answer: StripeAnswer) -> None:
        row = self.rows[event.identifier]
        row.status, row.answer, row.claimed_until = ReportStatus.DEAD, answer, None
        self.add_dead_letter(event.identifier, event.tenant_id, "meter_event", answer)

    def reported_characters(self, tenant_id: str, start: datetime, end: datetime) -> int:
        return sum(
            r.event.value
            for r in self.rows.values()
            if r.event.tenant_id == tenant_id and r.status is ReportStatus.SENT and start <= r.event.occurred_at < end
        )

    def pending_count(self) -> int:
        return sum(1 for r in self.rows.values() if r.status is ReportStatus.PENDING)

    def add_dead_letter(self, identifier: str, tenant_id: str, kind: str, answer: StripeAnswer) -> None:
        previous = self.letters.get(identifier)
        attempts = previous.attempts + 1 if previous else 1
        self.letters[identifier] = DeadLetter(
            identifier, tenant_id, kind, answer.http_status, answer.detail, attempts, datetime.now().astimezone()
        )

    def dead_letters(self, after: Cursor | None, limit: int) -> list[DeadLetter]:
        ordered = sorted(self.letters.values(), key=lambda d: (d.created_at, d.identifier))
        if after is not None:
            ordered = [d for d in ordered if (d.created_at, d.identifier) > (after.created_at, after.id)]
        return ordered[:limit]

    def replay(self, identifiers: Sequence[str]) -> int:
        chosen = [self.letters[i] for i in (identifiers or list(self.letters)) if i in self.letters]
        for letter in chosen:
            if letter.kind == "meter_event":
                row = self.rows[letter.identifier]
                row.status, row.next_at = ReportStatus.PENDING, None
            else:
                self.blocked.discard(letter.tenant_id)
            del self.letters[letter.identifier]
        return len(chosen)

    def first_time(self, event: StripeEvent, tenant_id: str | None) -> bool:
        if event.event_id in self.seen_events:
            return False
        self.seen_events.add(event.event_id)
        return True

    def save_invoice(self, invoice: Invoice) -> None:
        self.invoice_rows[invoice.invoice_id] = invoice

    def invoices(self, tenant_id: str, limit: int) -> list[Invoice]:
        mine = [i for i in self.invoice_rows.values() if i.tenant_id == tenant_id]
        return sorted(mine, key=lambda i: i.created_at, reverse=True)[:limit]


@dataclass
class FakeEvents:
    staged: list[tuple[str, str, Any]] = field(default_factory=list)

    def add(self, topic, key: str, payload, tenant_id: str = "") -> str:
        self.staged.append((topic.name, key, payload))
        return f"event-{len(self.staged)}"


@dataclass
class FakeStripeWork:
    ledger: FakeStripeLedger
    events: FakeEvents


class FakeStripeUnitOfWork:
    def __init__(self, ledger: FakeStripeLedger | None = None) -> None:
        self.work = FakeStripeWork(ledger or FakeStripeLedger(), FakeEvents())

    @contextmanager
    def begin(self):
        yield self.work

    @contextmanager
    def read(self):
        yield self.work


class FakeStripe:
    """Answers meter events as scripted (default: accepted) and bills each identifier once, like Stripe."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.script: list[StripeAnswer] = []
        self.refused_customers: set[str] = set()
        self.arrivals: Counter[str] = Counter()
        self.billed: dict[str, int] = {}
        self.calls: list[tuple[str, str]] = []  # (call, idempotency key)
        self.fail_customer_creation: StripeAnswer | None = None
        self.webhook_events: dict[str, StripeEvent] = {}

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def create_meter(self, event_name: str, idempotency_key: str) -> str:
        self.calls.append(("meter", idempotency_key))
        return self._id("meter")

    def create_plan_prices(self, plan: Plan, meter_id: str, idempotency_key: str) -> PlanPrices:
        self.calls.append(("prices", idempotency_key))
        return PlanPrices(self._id("price"), self._id("price"))

    def create_customer(self, tenant_id: str, name: str, idempotency_key: str) -> str:
        self.calls.append(("customer", idempotency_key))
        if self.fail_customer_creation:
            raise StripeCallFailed(self.fail_customer_creation)
        return self._id("cus")

    def create_subscription(self, customer_id, tenant_id, prices, idempotency_key) -> Subscription:
        self.calls.append(("subscription", idempotency_key))
        return Subscription(self._id("sub"), (self._id("si"), self._id("si")))

    def change_subscription(self, subscription, prices, idempotency_key) -> Subscription:
        self.calls.append(("change", idempotency_key))
        return Subscription(subscription.subscription_id, (self._id("si"), self._id("si")))

    def send_meter_event(self, event_name: str, event: MeterEvent, customer_id: str) -> StripeAnswer:
        self.arrivals[event.identifier] += 1
        if self.script:
            answer = self.script.pop(0)
            if answer.verdict is not Verdict.SENT:
                return answer
        if customer_id in self.refused_customers:
            return StripeAnswer(Verdict.DEAD, 400, "No such customer")
        self.billed.setdefault(event.identifier, event.value)
        return StripeAnswer(Verdict.SENT, 200, "ok")

    def verify_webhook(self, payload: bytes, signature: str) -> StripeEvent:
        if signature != "valid":
            raise InvalidArgument("the Stripe signature does not match")
        return self.webhook_events[payload.decode()]
