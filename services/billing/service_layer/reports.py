"""Reports: a tenant's usage in a period, and the cost report (cost per request from measured compute,
next to each tenant's revenue)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kit.clock import Clock
from kit.errors import InvalidArgument
from kit.logging import get_logger
from kit.periods import period_of, period_reset
from services.billing import metrics
from services.billing.domain.cost_model import BYTES_PER_TB, CostModel, CostReport
from services.billing.domain.plans import DEFAULT_PLANS, Plan
from services.billing.domain.usage import PeriodUsage, UsageTotals
from services.billing.service_layer.ports import UnitOfWork

log = get_logger("billing.reports")


class Reports:
    def __init__(
        self,
        uow: UnitOfWork,
        cost_model: CostModel,
        clock: Clock,
        plans: dict[str, Plan] | None = None,
        stored_bytes: Callable[[], int] | None = None,
    ) -> None:
        """`stored_bytes`: the bytes in object storage now (priced as the storage line); None: not measured."""
        self.uow = uow
        self.cost_model = cost_model
        self.clock = clock
        self.plans = plans or dict(DEFAULT_PLANS)
        self.stored_bytes = stored_bytes

    def period(self, value: str) -> str:
        """A "YYYY-MM" period as asked; the current one when none is."""
        if not value:
            return period_of(self.clock.now())
        try:
            datetime.strptime(value, "%Y-%m")
        except ValueError as exc:
            raise InvalidArgument("period must be YYYY-MM", field="period") from exc
        return value

    def usage(self, tenant_id: str, period: str = "") -> PeriodUsage:
        """The tenant's totals; zeros for a period without usage."""
        period = self.period(period)
        with self.uow.read() as ledger:
            found = ledger.usage(tenant_id, period)
        return found or PeriodUsage(tenant_id, period, UsageTotals())

    def cost(self, period: str = "") -> CostReport:
        """The period's cost report; the current period's also refreshes the cost gauges."""
        period = self.period(period)
        end = period_reset(datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC))
        with self.uow.read() as ledger:
            compute = ledger.compute_totals(period)
            accounts = ledger.known_accounts(created_before=end)
        storage_tb, notes = self._storage_tb()
        report = self.cost_model.report(period, compute, accounts, self.plans, storage_tb, notes)
        if period == period_of(self.clock.now()):
            metrics.publish(report)
        return report

    def _storage_tb(self) -> tuple[float, list[str]]:
        """Object storage now (not at the period's end: the store keeps no history), and why it is 0."""
        if self.stored_bytes is None:
            return 0.0, ["object storage not measured (billing has no store configured): priced at 0 TB"]
        try:
            return self.stored_bytes() / BYTES_PER_TB, []
        except Exception as error:  # the report is still worth having without the storage line
            log.warning("storage_not_measured", error=type(error).__name__)
            return 0.0, [f"object storage could not be measured ({type(error).__name__}): priced at 0 TB"]
