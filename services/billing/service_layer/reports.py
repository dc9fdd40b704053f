"""Reports: a tenant's usage in a period, the deployment's cost per request."""

from __future__ import annotations

from datetime import datetime

from kit.clock import Clock
from kit.errors import InvalidArgument
from kit.periods import period_of
from services.billing.domain.cost_model import CostModel, CostReport
from services.billing.domain.usage import PeriodUsage, UsageTotals
from services.billing.service_layer.ports import UnitOfWork


class Reports:
    def __init__(self, uow: UnitOfWork, cost_model: CostModel, clock: Clock) -> None:
        self.uow = uow
        self.cost_model = cost_model
        self.clock = clock

    def period(self, value: str) -> str:
        """A "YYYY-MM" period as asked; the current one when none is."""
        if not value:
            return period_of(self.clock.now())
        try:
            datetime.strptime(value, "%Y-%m")
        except ValueError as exc:
            raise InvalidArgument("period must be YYYY-MM") from exc
        return value

    def usage(self, tenant_id: str, period: str = "") -> PeriodUsage:
        """The tenant's totals; zeros for a period without usage."""
        period = self.period(period)
        with self.uow.read() as ledger:
            found = ledger.usage(tenant_id, period)
        return found or PeriodUsage(tenant_id, period, UsageTotals())

    def cost(self, period: str = "") -> CostReport:
        period = self.period(period)
        with self.uow.read() as ledger:
            requests = ledger.period_generations(period)
        total, per_request = self.cost_model.per_request(requests)
        return CostReport(period, self.cost_model.lines(0.0), total, requests, per_request)
