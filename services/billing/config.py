"""Billing settings (environment prefix TIMBRE_)."""

from __future__ import annotations

from pydantic import SecretStr

from kit.config import ServiceSettings
from services.billing.domain.plans import DEFAULT_PLANS, Plan


class BillingSettings(ServiceSettings):
    service_name: str = "billing"

    # --- plans (defaults: the seed's tiers; docs/billing.md) -----------------------------------
    pro_monthly_usd: float = DEFAULT_PLANS["pro"].monthly_usd
    pro_included_characters: int = DEFAULT_PLANS["pro"].included_characters
    pro_overage_usd_per_1k: float = DEFAULT_PLANS["pro"].overage_usd_per_1k
    enterprise_monthly_usd: float = DEFAULT_PLANS["enterprise"].monthly_usd
    enterprise_included_characters: int = DEFAULT_PLANS["enterprise"].included_characters
    enterprise_overage_usd_per_1k: float = DEFAULT_PLANS["enterprise"].overage_usd_per_1k
    free_included_characters: int = DEFAULT_PLANS["free"].included_characters

    # --- Stripe ----------------------------------------------------------------------------------
    # Empty: billing keeps its ledger but sends nothing to Stripe. `make up` sets the local
    # stripe-mock's URL and its test key.
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = ""
    stripe_webhook_secret: SecretStr | None = None
    stripe_meter_event_name: str = "timbre_characters"
    stripe_max_network_retries: int = 4
    stripe_timeout_seconds: float = 20.0
    stripe_batch_size: int = 200
    stripe_poll_seconds: float = 0.5
    # How long a tenant whose payment failed keeps working before it is suspended.
    billing_grace_hours: float = 72.0

    def plans(self) -> dict[str, Plan]:
        return {
            "free": Plan("free", 0.0, self.free_included_characters, 0.0),
            "pro": Plan("pro", self.pro_monthly_usd, self.pro_included_characters, self.pro_overage_usd_per_1k),
            "enterprise": Plan(
                "enterprise",
                self.enterprise_monthly_usd,
                self.enterprise_included_characters,
                self.enterprise_overage_usd_per_1k,
            ),
        }
