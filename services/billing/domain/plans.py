"""What each tier costs a tenant: a monthly price, characters included, and a price per 1,000
characters beyond them. Stripe gets the same numbers (a licensed monthly price plus a metered,
graduated price whose first tier is the included characters at zero)."""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class Plan:
    tier: str
    monthly_usd: float
    included_characters: int
    overage_usd_per_1k: float

    def overage_characters(self, used: int) -> int:
        return max(0, used - self.included_characters)

    def overage_usd(self, used: int) -> float:
        return self.overage_characters(used) * self.overage_usd_per_1k / 1000.0

    def amount_usd(self, used: int) -> float:
        """The period's price: the monthly price plus the metered usage beyond the included characters."""
        return self.monthly_usd + self.overage_usd(used)

    @property
    def charges(self) -> bool:
        return self.monthly_usd > 0 or self.overage_usd_per_1k > 0


# The seed's tiers; the free tier is capped by its quota and never charged. Pro's quota equals its
# included characters, so its overage only appears where an operator raised the quota.
DEFAULT_PLANS = {
    "free": Plan("free", 0.0, 10_000, 0.0),
    "pro": Plan("pro", 99.0, 500_000, 0.20),
    "enterprise": Plan("enterprise", 499.0, 5_000_000, 0.12),
}


def plan_for(plans: dict[str, Plan], tier: str) -> Plan:
    return plans.get(tier) or plans["free"]
