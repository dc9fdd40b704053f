"""Money through Stripe: the catalog (meter and prices per plan), a customer and a subscription per
tenant, and the ledger's meter events sent exactly once.

Exactly once, end to end: the usage consumer writes one ledger row per generation in the same
transaction as its inbox mark (a redelivered event adds nothing); the reporter sends each row under
its deterministic identifier and marks it sent in a transaction of its own right after Stripe's
answer. A crash between the two resends that one identifier, which Stripe de-duplicates; nothing is
lost because a row stays pending until Stripe has answered.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from kit.clock import Clock
from kit.events.topics import BILLING_EVENTS
from kit.logging import get_logger
from services.billing import stripe_metrics as metrics
from services.billing.domain.billing_state import BillingState, Standing
from services.billing.domain.metering import MeterEvent, StripeAnswer, Verdict, meter_identifier, next_attempt
from services.billing.domain.plans import Plan
from services.billing.domain.stripe_account import (
    StripeAccount,
    customer_key,
    subscription_key,
    tier_change_key,
)
from services.billing.service_layer.stripe_ports import (
    PlanPrices,
    StripeApi,
    StripeCallFailed,
    StripeLedger,
    StripeUnitOfWork,
    Subscription,
)
from timbre.v1 import common_pb2, events_pb2

log = get_logger("billing.stripe")
_WAITING = StripeAnswer(Verdict.RETRY, 0, "no Stripe customer for the tenant yet")

STATE_CODES = {
    BillingState.ACTIVE: common_pb2.BILLING_STATE_ACTIVE,
    BillingState.PAST_DUE: common_pb2.BILLING_STATE_PAST_DUE,
    BillingState.SUSPENDED: common_pb2.BILLING_STATE_SUSPENDED,
}


def record_usage(ledger: StripeLedger, tenant_id: str, generation_ref: str, characters: int, at: datetime) -> None:
    """Queue one generation's characters for Stripe (inside the usage consumer's transaction)."""
    if characters <= 0:
        return
    ledger.enqueue(MeterEvent(meter_identifier(tenant_id, generation_ref), tenant_id, characters, at))


def change_tier(ledger: StripeLedger, tenant_id: str, tier: str) -> None:
    """The tenant moved to another tier: the reporter moves its subscription (with Stripe's proration)."""
    ledger.set_tier(tenant_id, tier)


def plan_version(plan: Plan) -> str:
    """Part of the catalog key: new numbers make new prices (Stripe prices are immutable)."""
    return f"{plan.monthly_usd:g}-{plan.included_characters}-{plan.overage_usd_per_1k:g}"


@dataclass(frozen=True)
class ReportRound:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead + self.waiting


class StripeBilling:
    def __init__(
        self,
        uow: StripeUnitOfWork,
        api: StripeApi,
        plans: dict[str, Plan],
        clock: Clock,
        meter_event_name: str = "timbre_characters",
        grace: timedelta = timedelta(hours=72),
        batch_size: int = 200,
        lease_seconds: float = 120.0,
        senders: int = 1,
    ) -> None:
        self.uow = uow
        self.api = api
        self.plans = plans
        self.clock = clock
        self.meter_event_name = meter_event_name
        self.grace = grace
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # Meter events in flight at once: Stripe accepts hundreds per second, one sender only its round trip.
        self.senders = max(1, senders)
        self._pool: ThreadPoolExecutor | None = None
        self._prices: dict[str, PlanPrices] = {}

    # --- catalog ---------------------------------------------------------------------------------

    def _meter(self) -> str:
        key = f"meter-{self.meter_event_name}"
        with self.uow.read() as work:
            found = work.ledger.catalog_id(key)
        if found:
            return found
        meter_id = self.api.create_meter(self.meter_event_name, f"timbre-catalog-{key}")
        with self.uow.begin() as work:
            work.ledger.save_catalog_id(key, meter_id)
        return meter_id

    def prices(self, tier: str) -> PlanPrices:
        """The tier's two prices at Stripe, made once per plan version (idempotency keys carry the
        version, so a crash between Stripe's answer and our record makes no second pair)."""
        if tier not in self._prices:
            plan = self.plans.get(tier) or self.plans["free"]
            key = f"prices-{plan.tier}-{plan_version(plan)}"
            with self.uow.read() as work:
                monthly, metered = work.ledger.catalog_id(f"{key}-monthly"), work.ledger.catalog_id(f"{key}-metered")
            if not (monthly and metered):
                made = self.api.create_plan_prices(plan, self._meter(), f"timbre-catalog-{key}")
                monthly, metered = made.monthly_price_id, made.metered_price_id
                with self.uow.begin() as work:
                    work.ledger.save_catalog_id(f"{key}-monthly", monthly)
                    work.ledger.save_catalog_id(f"{key}-metered", metered)
            self._prices[tier] = PlanPrices(monthly, metered)
        return self._prices[tier]

    # --- customers and subscriptions -------------------------------------------------------------

    def sync_accounts(self) -> int:
        """Create missing customers and subscriptions, move subscriptions to the tenant's tier.
        Returns how many accounts changed."""
        changed = 0
        with self.uow.begin() as work:
            accounts = work.ledger.accounts_to_sync(self.batch_size)
            for account in accounts:
                try:
                    self._sync(work.ledger, account)
                    changed += 1
                except StripeCallFailed as failure:
                    if failure.answer.verdict is Verdict.DEAD:
                        kind = "customer" if account.needs_customer else "subscription"
                        key = customer_key(account.tenant_id) if account.needs_customer else account.tenant_id
                        work.ledger.block_sync(account.tenant_id)
                        work.ledger.add_dead_letter(key, account.tenant_id, kind, failure.answer)
                        metrics.DEAD_LETTERS.labels(kind).inc()
                        log.warning(
                            "stripe refused", tenant_id=account.tenant_id, kind=kind, detail=failure.answer.detail
                        )
                    else:
                        log.info("stripe busy; account sync later", tenant_id=account.tenant_id)
        return changed

    def _sync(self, ledger: StripeLedger, account: StripeAccount) -> None:
        customer_id = account.customer_id
        if not customer_id:
            customer_id = self.api.create_customer(account.tenant_id, account.name, customer_key(account.tenant_id))
            ledger.save_customer(account.tenant_id, customer_id)
        prices = self.prices(account.tier)
        if not account.subscription_id:
            subscription = self.api.create_subscription(
                customer_id, account.tenant_id, prices, subscription_key(account.tenant_id, account.tier)
            )
            ledger.save_subscription(account.tenant_id, subscription, account.tier)
        elif account.subscribed_tier != account.tier:
            current = Subscription(account.subscription_id, account.item_ids)
            key = tier_change_key(account.tenant_id, account.subscription_id, account.tier)
            ledger.save_subscription(
                account.tenant_id, self.api.change_subscription(current, prices, key), account.tier
            )

    # --- meter events ----------------------------------------------------------------------------

    def report_due(self) -> ReportRound:
        """Send what is due, `senders` at a time; each answer is recorded in its own transaction as soon
        as it arrives (so a crash leaves at most `senders` sends unrecorded, which Stripe de-duplicates)."""
        now = self.clock.now()
        with self.uow.begin() as work:
            claimed = work.ledger.claim_due(now, self.batch_size, self.lease_seconds)
        if self.senders > 1 and len(claimed) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="stripe-sender")
            outcomes = list(self._pool.map(lambda pair: self._report_one(*pair), claimed))
        else:
            outcomes = [self._report_one(event, customer_id) for event, customer_id in claimed]
        counted = Counter(outcomes)
        return ReportRound(counted["sent"], counted["retry"], counted["dead"], counted["waiting"])

    def _report_one(self, event: MeterEvent, customer_id: str | None) -> str:
        if not customer_id:
            # The tenant's customer is not made yet (or was refused): the event waits, unsent.
            with self.uow.begin() as work:
                work.ledger.mark_retry(event.identifier, _WAITING, self.clock.now() + timedelta(seconds=2))
            return "waiting"
        answer = self.api.send_meter_event(self.meter_event_name, event, customer_id)
        with self.uow.begin() as work:
            if answer.verdict is Verdict.SENT:
                work.ledger.mark_sent(event.identifier, answer, self.clock.now())
            elif answer.verdict is Verdict.RETRY:
                later = next_attempt(self.clock.now(), event.attempts + 1, answer.retry_after_seconds)
                work.ledger.mark_retry(event.identifier, answer, later)
            else:
                work.ledger.mark_dead(event, answer)
        self._count(answer.verdict, event.value)
        return answer.verdict.value

    @staticmethod
    def _count(verdict: Verdict, value: int) -> None:
        metrics.METER_EVENTS.labels(verdict.value).inc()
        if verdict is Verdict.SENT:
            metrics.METERED_CHARACTERS.inc(value)
        elif verdict is Verdict.DEAD:
            metrics.DEAD_LETTERS.labels("meter_event").inc()

    # --- standing --------------------------------------------------------------------------------

    def expire_grace(self) -> int:
        """Suspend tenants past due for longer than the grace period."""
        suspended = 0
        with self.uow.begin() as work:
            for account in work.ledger.past_due():
                standing = account.standing.after_grace(self.clock.now(), self.grace)
                if standing != account.standing:
                    change_standing(work, account.tenant_id, standing, "")
                    suspended += 1
        return suspended

    def pending(self) -> int:
        with self.uow.read() as work:
            return work.ledger.pending_count()


def change_standing(work, tenant_id: str, standing: Standing, stripe_event_id: str) -> None:
    """Record the tenant's new standing and tell tenancy (which suspends or restores its keys)."""
    work.ledger.save_standing(tenant_id, standing)
    work.events.add(
        BILLING_EVENTS,
        tenant_id,
        events_pb2.TenantBillingStateChanged(
            tenant_id=tenant_id,
            state=STATE_CODES[standing.state],
            reason=standing.reason,
            stripe_event_id=stripe_event_id,
        ),
        tenant_id=tenant_id,
    )
    log.info("billing standing changed", tenant_id=tenant_id, state=standing.state.value)
