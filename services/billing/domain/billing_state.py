"""A tenant's standing with its payments, moved by Stripe's events and by the clock.

paid invoice → active; failed payment → past due (the tenant keeps working); past due longer than
the grace period, or the subscription cancelled → suspended (its keys answer 402) until an invoice
is paid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum


class BillingState(Enum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Standing:
    state: BillingState = BillingState.ACTIVE
    reason: str = ""
    past_due_since: datetime | None = None

    def invoice_paid(self) -> Standing:
        return Standing(BillingState.ACTIVE)

    def payment_failed(self, at: datetime, invoice_id: str) -> Standing:
        if self.state is BillingState.SUSPENDED:
            return self
        since = self.past_due_since or at
        return Standing(BillingState.PAST_DUE, f"payment of invoice {invoice_id} failed", since)

    def subscription_cancelled(self) -> Standing:
        return Standing(BillingState.SUSPENDED, "the subscription was cancelled", self.past_due_since)

    def after_grace(self, now: datetime, grace: timedelta) -> Standing:
        """Past due for longer than the grace period → suspended; anything else stays as it is."""
        if self.state is BillingState.PAST_DUE and self.past_due_since and now - self.past_due_since >= grace:
            return replace(self, state=BillingState.SUSPENDED, reason=f"unpaid past the grace period: {self.reason}")
        return self


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    tenant_id: str
    status: str
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    hosted_invoice_url: str
    created_at: datetime
