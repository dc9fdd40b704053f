"""BillingService RPCs: authorise, translate, delegate to the service layer, translate back."""

from __future__ import annotations

from kit.grpc.auth import current_principal
from kit.grpc.convert import ts
from services.billing.service_layer.reports import Reports
from timbre.v1 import billing_pb2, billing_pb2_grpc


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    def GetUsageSummary(self, request, context):
        found = self.reports.usage(current_principal().tenant_scope(request.tenant_id), request.period)
        totals = found.totals
        return billing_pb2.GetUsageSummaryResponse(
            tenant_id=found.tenant_id,
            period=found.period,
            totals=billing_pb2.UsageTotals(
                characters=totals.characters,
                audio_seconds=totals.audio_seconds,
                compute_seconds=totals.compute_seconds,
                generations=totals.generations,
            ),
            reported=found.reported,
            update_time=ts(found.updated_at),
        )

    def GetCostReport(self, request, context):
        current_principal().require_operator()
        report = self.reports.cost(request.period)
        return billing_pb2.GetCostReportResponse(
            period=report.period,
            lines=[billing_pb2.CostLine(item=item, monthly_usd=usd) for item, usd in report.lines],
            total_usd=report.total_usd,
            requests=report.requests,
            cost_per_request_usd=report.cost_per_request_usd,
        )
