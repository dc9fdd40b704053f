"""The seed's cost model: monthly infrastructure cost divided by the period's requests."""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class CostReport:
    period: str
    lines: list[tuple[str, float]]  # (item, monthly USD)
    total_usd: float
    requests: int
    cost_per_request_usd: float


@dataclass(frozen=True)
class CostModel:
    gpu_hourly_usd: float = 1.006  # g5.xlarge (A10G)
    gpu_count: int = 4
    api_hourly_usd: float = 0.17  # c6i.xlarge
    api_count: int = 3
    postgres_monthly_usd: float = 200.0
    kafka_redis_monthly_usd: float = 150.0
    storage_usd_per_tb_month: float = 23.0

    def lines(self, storage_tb: float) -> list[tuple[str, float]]:
        return [
            (
                f"GPU workers ({self.gpu_count}× ${self.gpu_hourly_usd}/h)",
                self.gpu_hourly_usd * self.gpu_count * HOURS_PER_MONTH,
            ),
            (
                f"API nodes ({self.api_count}× ${self.api_hourly_usd}/h)",
                self.api_hourly_usd * self.api_count * HOURS_PER_MONTH,
            ),
            ("PostgreSQL", self.postgres_monthly_usd),
            ("Kafka/Redis", self.kafka_redis_monthly_usd),
            (f"Object storage ({storage_tb:.3f} TB)", self.storage_usd_per_tb_month * storage_tb),
        ]

    def per_request(self, requests: int, storage_tb: float = 0.0) -> tuple[float, float]:
        """(monthly total, cost per request); per request is 0 when there were none."""
        total = sum(amount for _, amount in self.lines(storage_tb))
        return total, (total / requests if requests else 0.0)
