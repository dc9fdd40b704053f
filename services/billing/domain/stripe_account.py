"""A tenant as Stripe knows it: a customer with one subscription made for the tenant's tier."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.billing.domain.billing_state import Standing


@dataclass(frozen=True)
class StripeAccount:
    tenant_id: str
    name: str
    tier: str
    customer_id: str | None = None
    subscription_id: str | None = None
    item_ids: tuple[str, ...] = ()
    subscribed_tier: str | None = None
    standing: Standing = field(default_factory=Standing)

    @property
    def needs_customer(self) -> bool:
        return not self.customer_id

    @property
    def needs_subscription(self) -> bool:
        return bool(self.customer_id) and not self.subscription_id

    @property
    def needs_tier_change(self) -> bool:
        return bool(self.subscription_id) and self.subscribed_tier != self.tier

    @property
    def in_sync(self) -> bool:
        return not (self.needs_customer or self.needs_subscription or self.needs_tier_change)


def customer_key(tenant_id: str) -> str:
    """Idempotency key of the customer's creation: a retry (or a second replica) never makes two."""
    return f"timbre-customer-{tenant_id}"


def subscription_key(tenant_id: str, tier: str) -> str:
    return f"timbre-subscription-{tenant_id}-{tier}"


def tier_change_key(tenant_id: str, subscription_id: str, tier: str) -> str:
    return f"timbre-tier-{tenant_id}-{subscription_id}-{tier}"
