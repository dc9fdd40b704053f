"""BillingService RPCs."""

from __future__ import annotations

from datetime import UTC, datetime

from kit.db.engine import UnitOfWork
from kit.errors import InvalidArgument
from kit.grpc.auth import current_principal
from kit.grpc.convert import ts
from kit.periods import period_of
from services.billing.domain.cost_model import CostModel
from services.billing.storage import repository as repo
from timbre.v1 import billing_pb2, billing_pb2_grpc


def _period(value: str) -> str:
    if not value:
        return period_of(datetime.now(UTC))
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError as exc:
        raise InvalidArgument("period must be YYYY-MM") from exc
    return value


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, uow: UnitOfWork, cost_model: CostModel) -> None:
        self.uow = uow
        self.cost_model = cost_model

    def GetUsageSummary(self, request, context):
        tenant_id = current_principal().tenant_scope(request.tenant_id)
        period = _period(request.period)
        with self.uow.read() as conn:
            row = repo.usage(conn, tenant_id, period)
        totals = billing_pb2.UsageTotals()
        if row is not None:
            totals = billing_pb2.UsageTotals(
                characters=row.characters,
                audio_seconds=row.audio_seconds,
                compute_seconds=row.compute_seconds,
                generations=row.generations,
            )
        return billing_pb2.GetUsageSummaryResponse(
            tenant_id=tenant_id,
            period=period,
            totals=totals,
            reported=bool(row is not None and row.reported_at),
            update_time=ts(row.updated_at) if row else None,
        )

    def GetCostReport(self, request, context):
        current_principal().require_operator()
        period = _period(request.period)
        with self.uow.read() as conn:
            requests = repo.period_generations(conn, period)
        total, per_request = self.cost_model.per_request(requests)
        return billing_pb2.GetCostReportResponse(
            period=period,
            lines=[billing_pb2.CostLine(item=i, monthly_usd=a) for i, a in self.cost_model.lines(0.0)],
            total_usd=total,
            requests=requests,
            cost_per_request_usd=per_request,
        )
