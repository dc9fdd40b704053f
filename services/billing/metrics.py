"""Billing's Prometheus gauges: the current period's cost per request, per 1,000 characters and per audio
minute, and the compute seconds per worker class. Set from every cost report of the current period,
and by `CostGauges` in the background so that a scrape finds them without anyone asking."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from prometheus_client import Gauge

from kit.logging import get_logger

if TYPE_CHECKING:
    from services.billing.domain.cost_model import CostReport

log = get_logger("billing.metrics")

COST_PER_REQUEST = Gauge(
    "timbre_cost_per_request_usd", "Cost per synthesis request in the current period (USD)", ["scope"]
)
COST_PER_1K_CHARACTERS = Gauge(
    "timbre_cost_per_1k_characters_usd", "Cost per 1,000 characters in the current period (USD)", ["scope"]
)
COST_PER_AUDIO_MINUTE = Gauge(
    "timbre_cost_per_audio_minute_usd", "Cost per minute of audio in the current period (USD)", ["scope"]
)
COMPUTE_SECONDS = Gauge(
    "timbre_compute_seconds", "Measured compute in the current period, by worker class", ["worker_class"]
)
COMPUTE_USD = Gauge("timbre_compute_usd", "Measured compute priced per hour, current period", ["worker_class"])
PERIOD_COST = Gauge("timbre_period_cost_usd", "The current period's cost so far (USD)", ["part"])
REQUESTS = Gauge("timbre_period_requests", "Synthesis requests in the current period")


def publish(report: CostReport) -> None:
    """Scope "overall" only: a tenant label would grow with the tenants (the report has them)."""
    overall = report.overall
    # "overall": fixed costs included; "compute": measured compute only, what one more request costs.
    for scope, cost in (("overall", overall), ("compute", replace(overall, fixed_share_usd=0.0))):
        COST_PER_REQUEST.labels(scope).set(cost.cost_per_request_usd)
        COST_PER_1K_CHARACTERS.labels(scope).set(cost.cost_per_1k_characters_usd)
        COST_PER_AUDIO_MINUTE.labels(scope).set(cost.cost_per_audio_minute_usd)
    for worker in report.compute:
        COMPUTE_SECONDS.labels(worker.worker_class).set(worker.compute_seconds)
        COMPUTE_USD.labels(worker.worker_class).set(worker.usd)
    PERIOD_COST.labels("fixed").set(report.fixed_usd)
    PERIOD_COST.labels("compute").set(report.compute_usd)
    PERIOD_COST.labels("revenue").set(overall.revenue_usd)
    REQUESTS.set(overall.requests)


class _CostReports(Protocol):
    def cost(self, period: str = "") -> CostReport: ...


class CostGauges:
    """A background worker: the current period's cost report every `interval` seconds (which publishes it)."""

    name = "cost-gauges"

    def __init__(self, reports: _CostReports, interval: float = 60.0) -> None:
        self.reports = reports
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.reports.cost()
            except Exception as error:  # the database may be away for a moment; the next round tries again
                log.warning("cost_gauges_not_refreshed", error=type(error).__name__)
            stop.wait(self.interval)
