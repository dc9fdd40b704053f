"""BillingService RPCs: authorise, translate, delegate to the service layer, translate back."""

from __future__ import annotations

from kit.grpc.auth import current_principal
from kit.grpc.convert import TIER_CODES, ts
from services.billing.domain.cost_model import TenantCost
from services.billing.grpc_api.accounts import BillingAccountRpcs
from services.billing.service_layer.accounts import BillingAccounts
from services.billing.service_layer.reports import Reports
from timbre.v1 import billing_pb2, billing_pb2_grpc, common_pb2


def tenant_cost_message(cost: TenantCost) -> billing_pb2.TenantCost:
    return billing_pb2.TenantCost(
        tenant_id=cost.tenant_id,
        tier=TIER_CODES.get(cost.tier, common_pb2.TIER_UNSPECIFIED),
        requests=cost.requests,
        characters=cost.characters,
        audio_seconds=cost.audio_seconds,
        compute_seconds=cost.compute_seconds,
        compute_usd=cost.compute_usd,
        fixed_share_usd=cost.fixed_share_usd,
        cost_usd=cost.cost_usd,
        cost_per_request_usd=cost.cost_per_request_usd,
        cost_per_1k_characters_usd=cost.cost_per_1k_characters_usd,
        cost_per_audio_minute_usd=cost.cost_per_audio_minute_usd,
        revenue_usd=cost.revenue_usd,
        margin_usd=cost.margin_usd,
    )


class BillingServicer(BillingAccountRpcs, billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, reports: Reports, accounts: BillingAccounts) -> None:
        self.reports = reports
        self.accounts = accounts

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
            compute=[
                billing_pb2.WorkerClassCost(
                    worker_class=c.worker_class, compute_seconds=c.compute_seconds, hourly_usd=c.hourly_usd, usd=c.usd
                )
                for c in report.compute
            ],
            fixed_usd=report.fixed_usd,
            compute_usd=report.compute_usd,
            overall=tenant_cost_message(report.overall),
            tenants=[tenant_cost_message(t) for t in report.tenants],
            notes=report.notes,
        )
