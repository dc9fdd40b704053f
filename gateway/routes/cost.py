"""Operator route: the cost report (cost per request from measured compute, per tenant, with revenue)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from gateway.auth import Caller, OperatorCaller
from gateway.routes.schemas import TIER_NAMES
from timbre.v1 import billing_pb2

router = APIRouter(tags=["operator"])


class CostLineOut(BaseModel):
    item: str
    monthly_usd: float


class WorkerClassCostOut(BaseModel):
    worker_class: str
    compute_seconds: float
    hourly_usd: float
    usd: float


class TenantCostOut(BaseModel):
    tenant_id: str  # empty in `overall`
    tier: str | None
    requests: int
    characters: int
    audio_seconds: float
    compute_seconds: float
    compute_usd: float
    fixed_share_usd: float
    cost_usd: float
    cost_per_request_usd: float
    cost_per_1k_characters_usd: float
    cost_per_audio_minute_usd: float
    revenue_usd: float
    margin_usd: float

    @classmethod
    def of(cls, cost: billing_pb2.TenantCost) -> TenantCostOut:
        return cls(
            tenant_id=cost.tenant_id,
            tier=TIER_NAMES.get(cost.tier),
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


class CostReportOut(BaseModel):
    period: str
    lines: list[CostLineOut]
    compute: list[WorkerClassCostOut]
    fixed_usd: float
    compute_usd: float
    total_usd: float
    requests: int
    cost_per_request_usd: float
    overall: TenantCostOut
    tenants: list[TenantCostOut]
    notes: list[str]

    @classmethod
    def of(cls, reply: billing_pb2.GetCostReportResponse) -> CostReportOut:
        return cls(
            period=reply.period,
            lines=[CostLineOut(item=line.item, monthly_usd=line.monthly_usd) for line in reply.lines],
            compute=[
                WorkerClassCostOut(
                    worker_class=c.worker_class, compute_seconds=c.compute_seconds, hourly_usd=c.hourly_usd, usd=c.usd
                )
                for c in reply.compute
            ],
            fixed_usd=reply.fixed_usd,
            compute_usd=reply.compute_usd,
            total_usd=reply.total_usd,
            requests=reply.requests,
            cost_per_request_usd=reply.cost_per_request_usd,
            overall=TenantCostOut.of(reply.overall),
            tenants=[TenantCostOut.of(t) for t in reply.tenants],
            notes=list(reply.notes),
        )


@router.get(
    "/v1/admin/cost-report",
    response_model=CostReportOut,
    summary="Cost per request, per 1,000 characters and per audio minute from measured compute (operator)",
)
def cost_report(
    request: Request,
    period: str = Query("", pattern=r"^(\d{4}-\d{2})?$", description="YYYY-MM (UTC); empty: the current month"),
    caller: Caller = OperatorCaller,
) -> CostReportOut:
    reply = request.app.state.backends.billing.GetCostReport(
        billing_pb2.GetCostReportRequest(period=period), metadata=caller.metadata
    )
    return CostReportOut.of(reply)
