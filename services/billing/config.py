"""Billing settings (environment prefix TIMBRE_)."""

from __future__ import annotations

from pydantic import SecretStr

from kit.config import ServiceSettings
from services.billing.domain.cost_model import DEFAULT_WORKER_HOURLY_USD, CostModel
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
    # A reporter's claim on a batch; after a crash the batch is taken up again once the lease ends.
    stripe_lease_seconds: float = 30.0
    # Meter events sent at once by one reporter (each recorded as soon as Stripe answers).
    stripe_senders: int = 4
    # How long a tenant whose payment failed keeps working before it is suspended.
    billing_grace_hours: float = 72.0

    # --- cost report (docs/cost.md) ----------------------------------------------------------------
    # USD per hour of each worker class (TIMBRE_COST_WORKER_HOURLY_USD as JSON); classes not listed are
    # priced at cost_unknown_worker_hourly_usd, with a warning in the report.
    cost_worker_hourly_usd: dict[str, float] = dict(DEFAULT_WORKER_HOURLY_USD)
    cost_unknown_worker_hourly_usd: float = CostModel.unknown_worker_hourly_usd
    cost_api_hourly_usd: float = CostModel.api_hourly_usd
    cost_api_nodes: int = CostModel.api_count
    cost_postgres_monthly_usd: float = CostModel.postgres_monthly_usd
    cost_kafka_redis_monthly_usd: float = CostModel.kafka_redis_monthly_usd
    cost_storage_usd_per_tb_month: float = CostModel.storage_usd_per_tb_month
    # Price the object store's size (one listing per report); off: the storage line is 0 with a note.
    cost_measure_storage: bool = True
    # How often the cost gauges are refreshed in the background.
    cost_gauges_seconds: float = 60.0

    def cost_model(self) -> CostModel:
        return CostModel(
            worker_hourly_usd=dict(self.cost_worker_hourly_usd),
            unknown_worker_hourly_usd=self.cost_unknown_worker_hourly_usd,
            api_hourly_usd=self.cost_api_hourly_usd,
            api_count=self.cost_api_nodes,
            postgres_monthly_usd=self.cost_postgres_monthly_usd,
            kafka_redis_monthly_usd=self.cost_kafka_redis_monthly_usd,
            storage_usd_per_tb_month=self.cost_storage_usd_per_tb_month,
        )

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
