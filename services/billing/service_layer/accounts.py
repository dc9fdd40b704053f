"""Billing accounts seen from outside: the tenant's billing view, Stripe's webhooks, and the operator's
dead letters and their replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from kit.clock import Clock
from kit.errors import FailedPrecondition
from kit.paging import Cursor, Page, PageRequest, page_of
from services.billing.domain.metering import DeadLetter
from services.billing.domain.plans import Plan
from services.billing.service_layer.billing_view import BillingView, billing_view
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.stripe_ports import StripeApi, StripeUnitOfWork
from services.billing.service_layer.stripe_webhooks import WebhookOutcome, handle_webhook


class BillingAccounts:
    def __init__(
        self,
        usage_uow: UnitOfWork,
        stripe_uow: StripeUnitOfWork,
        api: StripeApi | None,
        plans: dict[str, Plan],
        clock: Clock,
        grace: timedelta,
    ) -> None:
        self.usage_uow = usage_uow
        self.stripe_uow = stripe_uow
        self.api = api
        self.plans = plans
        self.clock = clock
        self.grace = grace

    def view(self, tenant_id: str) -> BillingView:
        return billing_view(self.usage_uow, self.stripe_uow, self.plans, self.clock, tenant_id)

    def webhook(self, payload: bytes, signature: str) -> WebhookOutcome:
        if self.api is None:
            raise FailedPrecondition("Stripe is not configured on this deployment (TIMBRE_STRIPE_API_KEY)")
        return handle_webhook(self.stripe_uow, self.api, self.clock, self.grace, payload, signature)

    def dead_letters(self, page: PageRequest) -> Page[DeadLetter]:
        with self.stripe_uow.read() as work:
            rows = work.ledger.dead_letters(page.after, page.fetch)
        return page_of(rows, page, lambda letter: Cursor(letter.created_at, letter.identifier))

    def replay(self, identifiers: Sequence[str]) -> int:
        """Dead letters back to work; meter events keep their identifiers, so Stripe still bills them once."""
        with self.stripe_uow.begin() as work:
            return work.ledger.replay(identifiers)
