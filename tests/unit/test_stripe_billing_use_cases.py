"""Billing's Stripe use cases on fakes: the catalog once, a customer and subscription per tenant, tier
changes, meter events sent once whatever fails in between, dead letters and their replay, webhooks
applied once and turned into the tenant's standing. No database, no Stripe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kit.errors import InvalidArgument, NotFound
from kit.events.topics import BILLING_EVENTS
from kit.paging import PageRequest
from services.billing.domain.billing_state import BillingState, Standing
from services.billing.domain.metering import StripeAnswer, Verdict, meter_identifier
from services.billing.domain.plans import DEFAULT_PLANS
from services.billing.service_layer.accounts import BillingAccounts
from services.billing.service_layer.stripe_billing import StripeBilling, change_tier, record_usage
from services.billing.service_layer.stripe_ports import StripeEvent
from tests.fakes.billing import FakeBillingUnitOfWork, FakeLedger
from tests.fakes.clock import FakeClock
from tests.fakes.stripe import FakeStripe, FakeStripeLedger, FakeStripeUnitOfWork
from timbre.v1 import common_pb2

A = "3f1c2d4e-0000-4000-8000-00000000000a"
B = "3f1c2d4e-0000-4000-8000-00000000000b"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def ledger() -> FakeStripeLedger:
    ledger = FakeStripeLedger()
    ledger.add_account(A, "pro")
    ledger.add_account(B, "enterprise")
    return ledger


@pytest.fixture
def uow(ledger) -> FakeStripeUnitOfWork:
    return FakeStripeUnitOfWork(ledger)


@pytest.fixture
def stripe() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def billing(uow, stripe, clock) -> StripeBilling:
    return StripeBilling(uow, stripe, DEFAULT_PLANS, clock, grace=timedelta(hours=72), batch_size=50)


def _usage(ledger, tenant: str, count: int, characters: int = 100) -> int:
    for n in range(count):
        record_usage(ledger, tenant, f"gen-{n}", characters, NOW - timedelta(minutes=n))
    return count * characters


def test_accounts_get_one_customer_and_subscription_and_the_catalog_is_made_once(billing, ledger, stripe):
    assert billing.sync_accounts() == 2
    assert billing.sync_accounts() == 0  # in step now: no second customer, no second subscription
    kinds = [kind for kind, _ in stripe.calls]
    assert kinds.count("customer") == 2 and kinds.count("subscription") == 2
    assert kinds.count("meter") == 1
    assert kinds.count("prices") == 2  # pro and enterprise, one pair each
    keys = [key for kind, key in stripe.calls if kind == "customer"]
    assert keys == [f"timbre-customer-{A}", f"timbre-customer-{B}"]
    assert all(ledger.accounts[t].subscribed_tier == ledger.accounts[t].tier for t in (A, B))


def test_a_tier_change_moves_the_subscription_with_its_own_idempotency_key(billing, ledger, stripe):
    billing.sync_accounts()
    subscription = ledger.accounts[A].subscription_id
    change_tier(ledger, A, "enterprise")
    assert billing.sync_accounts() == 1
    assert stripe.calls[-1] == ("change", f"timbre-tier-{A}-{subscription}-enterprise")
    assert ledger.accounts[A].subscribed_tier == "enterprise"
    assert ledger.accounts[A].subscription_id == subscription


def test_usage_waits_for_its_customer_then_is_billed_once(billing, ledger, stripe, clock):
    total = _usage(ledger, A, 30)
    assert billing.report_due().waiting == 30 and not stripe.arrivals
    billing.sync_accounts()
    clock.advance(5)
    assert billing.report_due().sent == 30
    assert sum(stripe.billed.values()) == total
    assert max(stripe.arrivals.values()) == 1
    assert billing.pending() == 0


def test_the_same_generation_queued_twice_is_one_meter_event(billing, ledger, stripe):
    billing.sync_accounts()
    record_usage(ledger, A, "gen-1", 50, NOW)
    record_usage(ledger, A, "gen-1", 50, NOW)
    billing.report_due()
    assert stripe.billed == {meter_identifier(A, "gen-1"): 50}


def test_server_errors_and_rate_limits_are_retried_later_with_the_same_identifier(billing, ledger, stripe, clock):
    billing.sync_accounts()
    record_usage(ledger, A, "gen-1", 70, NOW)
    stripe.script = [StripeAnswer(Verdict.RETRY, 500, "boom"), StripeAnswer(Verdict.RETRY, 429, "slow", 3.0)]
    assert billing.report_due().retried == 1
    assert billing.report_due().handled == 0  # backing off: not due yet
    clock.advance(1.5)
    assert billing.report_due().retried == 1  # the 429
    clock.advance(2.0)
    assert billing.report_due().handled == 0  # Retry-After (3 s) is longer than the backoff (2 s)
    clock.advance(1.5)
    assert billing.report_due().sent == 1
    identifier = meter_identifier(A, "gen-1")
    assert stripe.arrivals[identifier] == 3 and stripe.billed == {identifier: 70}


def test_a_refused_tenant_is_dead_lettered_others_go_on_and_replay_sends_it_once(billing, ledger, stripe, uow, clock):
    billing.sync_accounts()
    stripe.refused_customers.add(ledger.accounts[A].customer_id)
    _usage(ledger, A, 3)
    total_b = _usage(ledger, B, 5)
    outcome = billing.report_due()
    assert (outcome.dead, outcome.sent) == (3, 5)
    assert sum(v for k, v in stripe.billed.items() if B in k) == total_b
    accounts = BillingAccounts(FakeBillingUnitOfWork(FakeLedger()), uow, stripe, DEFAULT_PLANS, clock, timedelta(0))
    letters = accounts.dead_letters(PageRequest(size=2))
    assert len(letters.items) == 2 and letters.next_token
    assert {d.tenant_id for d in letters.items} == {A}
    stripe.refused_customers.clear()  # the cause is fixed
    assert accounts.replay([]) == 3
    assert billing.report_due().sent == 3
    assert all(count == 2 for key, count in stripe.arrivals.items() if A in key)  # refused once, accepted once
    assert len([k for k in stripe.billed if A in k]) == 3
    assert accounts.dead_letters(PageRequest()).items == []


def test_a_refused_customer_blocks_only_that_account_until_replayed(billing, ledger, stripe, uow, clock):
    stripe.fail_customer_creation = StripeAnswer(Verdict.DEAD, 400, "bad name")
    billing.sync_accounts()
    assert ledger.blocked == {A, B}
    stripe.fail_customer_creation = None
    assert billing.sync_accounts() == 0  # still blocked
    accounts = BillingAccounts(FakeBillingUnitOfWork(FakeLedger()), uow, stripe, DEFAULT_PLANS, clock, timedelta(0))
    assert accounts.replay([f"timbre-customer-{A}"]) == 1
    assert billing.sync_accounts() == 1
    assert ledger.accounts[A].customer_id and not ledger.accounts[B].customer_id


def _webhook(stripe: FakeStripe, event_id: str, kind: str, customer: str, invoice_id: str = "in_1") -> bytes:
    data = {"id": invoice_id, "object": "invoice", "customer": customer, "status": "open", "amount_due": 9900}
    if kind == "invoice.paid":
        data |= {"status": "paid", "amount_paid": 9900, "hosted_invoice_url": "https://invoice.stripe.com/i/x"}
    stripe.webhook_events[event_id] = StripeEvent(event_id, kind, NOW, customer, "", data)
    return event_id.encode()


def _accounts(uow, stripe, clock, grace_hours: float) -> BillingAccounts:
    usage = FakeBillingUnitOfWork(FakeLedger())
    return BillingAccounts(usage, uow, stripe, DEFAULT_PLANS, clock, timedelta(hours=grace_hours))


def test_webhooks_unpaid_suspends_after_grace_and_paid_restores(billing, ledger, stripe, uow, clock):
    billing.sync_accounts()
    customer = ledger.accounts[A].customer_id
    accounts = _accounts(uow, stripe, clock, 72)
    failed = _webhook(stripe, "evt_1", "invoice.payment_failed", customer)
    assert accounts.webhook(failed, "valid").applied
    assert ledger.accounts[A].standing.state is BillingState.PAST_DUE
    assert accounts.webhook(failed, "valid").applied is False  # the same event again: applied once
    clock.advance(71 * 3600)
    assert billing.expire_grace() == 0
    clock.advance(2 * 3600)
    assert billing.expire_grace() == 1
    assert ledger.accounts[A].standing.state is BillingState.SUSPENDED
    paid = _webhook(stripe, "evt_2", "invoice.paid", customer)
    assert accounts.webhook(paid, "valid").applied
    assert ledger.accounts[A].standing == Standing(BillingState.ACTIVE)
    states = [payload.state for topic, key, payload in uow.work.events.staged if topic == BILLING_EVENTS.name]
    assert states == [
        common_pb2.BILLING_STATE_PAST_DUE,
        common_pb2.BILLING_STATE_SUSPENDED,
        common_pb2.BILLING_STATE_ACTIVE,
    ]
    view = accounts.view(A)
    assert view.invoices[0].status == "paid" and view.invoices[0].hosted_invoice_url


def test_a_cancelled_subscription_suspends_at_once(billing, ledger, stripe, uow, clock):
    billing.sync_accounts()
    accounts = _accounts(uow, stripe, clock, 72)
    cancelled = _webhook(stripe, "evt_9", "customer.subscription.deleted", ledger.accounts[B].customer_id)
    accounts.webhook(cancelled, "valid")
    assert ledger.accounts[B].standing.state is BillingState.SUSPENDED
    assert "cancelled" in ledger.accounts[B].standing.reason


def test_a_forged_webhook_changes_nothing(billing, ledger, stripe, uow, clock):
    billing.sync_accounts()
    accounts = _accounts(uow, stripe, clock, 0)
    forged = _webhook(stripe, "evt_3", "customer.subscription.deleted", ledger.accounts[A].customer_id)
    with pytest.raises(InvalidArgument):
        accounts.webhook(forged, "t=1,v1=forged")
    assert ledger.accounts[A].standing.state is BillingState.ACTIVE and not ledger.seen_events


def test_the_billing_view_prices_usage_against_the_plan(uow, stripe, clock, ledger):
    usage_ledger = FakeLedger()
    from services.billing.domain.usage import Usage

    usage_ledger.add_usage(Usage(B, NOW, characters=5_250_000))
    accounts = BillingAccounts(FakeBillingUnitOfWork(usage_ledger), uow, stripe, DEFAULT_PLANS, clock, timedelta(0))
    view = accounts.view(B)
    plan = DEFAULT_PLANS["enterprise"]
    assert view.overage_characters == 5_250_000 - plan.included_characters
    assert view.estimated_due_usd == pytest.approx(plan.monthly_usd + 250_000 * plan.overage_usd_per_1k / 1000)
    with pytest.raises(NotFound):
        accounts.view("3f1c2d4e-0000-4000-8000-0000000000ff")


def test_several_senders_bill_each_generation_once(uow, stripe, clock, ledger):
    billing = StripeBilling(uow, stripe, DEFAULT_PLANS, clock, batch_size=500, senders=4)
    billing.sync_accounts()
    total = _usage(ledger, A, 150, characters=7) + _usage(ledger, B, 150, characters=3)
    assert billing.report_due().sent == 300
    assert billing.report_due().handled == 0
    assert sum(stripe.billed.values()) == total and max(stripe.arrivals.values()) == 1
