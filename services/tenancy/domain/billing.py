"""A tenant's standing with billing, as billing's verdicts set it, and what that standing allows.

Billing decides (from Stripe's invoices and subscription events); tenancy only records the latest
verdict and enforces it: a SUSPENDED tenant's API keys get no token, a PAST_DUE one keeps working.

Ordering: verdicts travel through Kafka and may arrive out of order after a replay or a rebalance.
Each carries the time billing decided it (the event envelope's `occurred_at`, stamped when billing
staged it in its outbox), so a verdict older than the one recorded is stale and is dropped. Kafka's
offsets cannot order them: a replay re-reads old offsets after newer ones were applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.errors import FailedPrecondition

ACTIVE = "active"
PAST_DUE = "past_due"
SUSPENDED = "suspended"
STATES = (ACTIVE, PAST_DUE, SUSPENDED)

SUSPENDED_REASON = "TENANT_SUSPENDED"


@dataclass(frozen=True)
class BillingStanding:
    """What tenancy last heard from billing about a tenant (ACTIVE and no time: nothing heard yet)."""

    state: str = ACTIVE
    reason: str = ""
    since: datetime | None = None  # when billing decided it (the verdict's occurred_at)
    stripe_event_id: str = ""


@dataclass(frozen=True)
class BillingVerdict:
    tenant_id: str
    state: str
    reason: str
    decided_at: datetime
    stripe_event_id: str = ""

    @property
    def standing(self) -> BillingStanding:
        # An ACTIVE tenant has nothing to explain: a leftover reason would show up in GetTenant.
        reason = "" if self.state == ACTIVE else self.reason
        return BillingStanding(self.state, reason, self.decided_at, self.stripe_event_id)


def supersedes(verdict: BillingVerdict, current: BillingStanding) -> bool:
    """Whether `verdict` is at least as recent as what is recorded (equal times: the later arrival wins)."""
    return current.since is None or verdict.decided_at >= current.since


def check_access(standing: BillingStanding) -> None:
    """Refuse a suspended tenant; PAST_DUE tenants keep working through the grace period billing grants."""
    if standing.state == SUSPENDED:
        explanation = standing.reason or "unpaid"
        raise FailedPrecondition(
            f"the tenant is suspended: {explanation}; pay the open invoice to restore access",
            reason=SUSPENDED_REASON,
            billing_state=SUSPENDED,
        )
