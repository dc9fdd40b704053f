"""What a synthesis request costs to serve: its measured compute, priced at the hourly rate of the worker
class that did it, plus a share of the deployment's fixed monthly costs (the seed's API nodes, database,
broker and object storage), next to what its tenant pays for the period.

Fixed costs are a whole month's and are shared by requests; a tenant's share is its fraction of the
period's requests. GPU workers are no longer a fixed line: they are priced by the seconds they worked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.billing.domain.plans import Plan, plan_for
from services.billing.domain.usage import Account, ComputeTotals

HOURS_PER_MONTH = 730
SECONDS_PER_HOUR = 3600.0
BYTES_PER_TB = 1 << 40  # S3 bills TB as 1024 GB of 2^30 bytes
# On-demand hourly prices (us-east-1): c6i.xlarge for CPU workers, g5.xlarge (one A10G) for GPU ones.
DEFAULT_WORKER_HOURLY_USD = {"cpu": 0.17, "gpu-nvidia-a10g": 1.006}


def _per(amount: float, count: float, unit: float = 1.0) -> float:
    """`amount` per `unit` of `count`; 0 when there is nothing to divide by."""
    return amount / count * unit if count > 0 else 0.0


@dataclass(frozen=True)
class WorkerClassCost:
    worker_class: str
    compute_seconds: float
    hourly_usd: float
    priced_by_default: bool = False  # no price configured for the class: the default rate applied

    @property
    def usd(self) -> float:
        return self.compute_seconds / SECONDS_PER_HOUR * self.hourly_usd


@dataclass(frozen=True)
class TenantCost:
    """A tenant's (or, as `overall`, everyone's) cost and revenue in a period."""

    tenant_id: str
    tier: str
    requests: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    compute_usd: float = 0.0
    fixed_share_usd: float = 0.0
    revenue_usd: float = 0.0

    @property
    def cost_usd(self) -> float:
        return self.compute_usd + self.fixed_share_usd

    @property
    def cost_per_request_usd(self) -> float:
        return _per(self.cost_usd, self.requests)

    @property
    def cost_per_1k_characters_usd(self) -> float:
        return _per(self.cost_usd, self.characters, 1000.0)

    @property
    def cost_per_audio_minute_usd(self) -> float:
        return _per(self.cost_usd, self.audio_seconds, 60.0)

    @property
    def margin_usd(self) -> float:
        return self.revenue_usd - self.cost_usd


@dataclass(frozen=True)
class CostReport:
    period: str
    lines: list[tuple[str, float]]  # the fixed costs: (item, monthly USD)
    compute: list[WorkerClassCost]
    tenants: list[TenantCost]
    overall: TenantCost
    notes: list[str] = field(default_factory=list)

    @property
    def fixed_usd(self) -> float:
        return sum(usd for _, usd in self.lines)

    @property
    def compute_usd(self) -> float:
        return sum(c.usd for c in self.compute)

    @property
    def total_usd(self) -> float:
        return self.fixed_usd + self.compute_usd

    @property
    def requests(self) -> int:
        return self.overall.requests

    @property
    def cost_per_request_usd(self) -> float:
        return self.overall.cost_per_request_usd


@dataclass(frozen=True)
class CostModel:
    worker_hourly_usd: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WORKER_HOURLY_USD))
    # A class nobody priced (a new GPU type): priced as the GPU default rather than as free.
    unknown_worker_hourly_usd: float = 1.006
    api_hourly_usd: float = 0.17  # c6i.xlarge
    api_count: int = 3
    postgres_monthly_usd: float = 200.0
    kafka_redis_monthly_usd: float = 150.0
    storage_usd_per_tb_month: float = 23.0

    def lines(self, storage_tb: float) -> list[tuple[str, float]]:
        """The fixed monthly costs."""
        return [
            (
                f"API nodes ({self.api_count}× ${self.api_hourly_usd}/h)",
                self.api_hourly_usd * self.api_count * HOURS_PER_MONTH,
            ),
            ("PostgreSQL", self.postgres_monthly_usd),
            ("Kafka/Redis", self.kafka_redis_monthly_usd),
            (f"Object storage ({storage_tb:.6f} TB)", self.storage_usd_per_tb_month * storage_tb),
        ]

    def hourly(self, worker_class: str) -> tuple[float, bool]:
        """(USD per hour, whether the default rate stood in for a missing price)."""
        if worker_class in self.worker_hourly_usd:
            return self.worker_hourly_usd[worker_class], False
        return self.unknown_worker_hourly_usd, True

    def report(
        self,
        period: str,
        compute: list[ComputeTotals],
        accounts: list[Account],
        plans: dict[str, Plan],
        storage_tb: float = 0.0,
        notes: list[str] | None = None,
    ) -> CostReport:
        """The period's report from its measured compute and the tenants billing knows. Tenants appear when
        they used the service in the period or pay for their plan whether or not they did."""
        notes = list(notes or [])
        lines = self.lines(storage_tb)
        fixed = sum(usd for _, usd in lines)
        tiers = {a.tenant_id: a.tier for a in accounts}
        classes = sorted({c.worker_class for c in compute})
        priced = {wc: self.hourly(wc) for wc in classes}
        by_class = [
            WorkerClassCost(wc, sum(c.compute_seconds for c in compute if c.worker_class == wc), *priced[wc])
            for wc in classes
        ]
        for cost in by_class:
            if cost.priced_by_default:
                notes.append(
                    f"warning: worker class {cost.worker_class!r} has no configured price;"
                    f" priced at the default ${cost.hourly_usd}/h"
                )
        unknown = sorted({c.tenant_id for c in compute} - tiers.keys())
        if unknown:
            notes.append(f"warning: {len(unknown)} tenant(s) with usage but no billing account: priced as free")
        requests = sum(c.requests for c in compute)
        tenant_ids = {c.tenant_id for c in compute} | {a.tenant_id for a in accounts if plan_for(plans, a.tier).charges}
        tenants = []
        for tenant_id in sorted(tenant_ids):
            rows = [c for c in compute if c.tenant_id == tenant_id]
            tier = tiers.get(tenant_id, "free")
            characters = sum(c.characters for c in rows)
            tenant_requests = sum(c.requests for c in rows)
            tenants.append(
                TenantCost(
                    tenant_id=tenant_id,
                    tier=tier,
                    requests=tenant_requests,
                    characters=characters,
                    audio_seconds=sum(c.audio_seconds for c in rows),
                    compute_seconds=sum(c.compute_seconds for c in rows),
                    compute_usd=sum(c.compute_seconds / SECONDS_PER_HOUR * priced[c.worker_class][0] for c in rows),
                    fixed_share_usd=_per(fixed * tenant_requests, requests),
                    revenue_usd=plan_for(plans, tier).amount_usd(characters),
                )
            )
        overall = TenantCost(
            tenant_id="",
            tier="",
            requests=requests,
            characters=sum(t.characters for t in tenants),
            audio_seconds=sum(t.audio_seconds for t in tenants),
            compute_seconds=sum(c.compute_seconds for c in by_class),
            compute_usd=sum(c.usd for c in by_class),
            fixed_share_usd=fixed,  # all of it, whether or not there were requests to share it
            revenue_usd=sum(t.revenue_usd for t in tenants),
        )
        return CostReport(period, lines, by_class, tenants, overall, notes)
