"""Usage analytics: the tenant's usage over days or months, of every voice or one (JSON, or CSV with
`Accept: text/csv`), and the operator's view across tenants, top tenants and object storage per tenant.
Billing's UsageAnalyticsService answers; dates and groupings are validated there (400 with the field at
fault)."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.auth import Caller, OperatorCaller, TenantCaller
from timbre.v1 import billing_pb2

router = APIRouter(tags=["usage"])

TenantGroupBy = Literal["day", "month", "voice", "language", "model"]
OperatorGroupBy = Literal["day", "month", "voice", "language", "model", "tenant"]
OrderBy = Literal["characters", "requests", "compute_seconds", "audio_seconds"]
CSV_TYPE = "text/csv"
FROM = Query("", alias="from", description="first UTC day, YYYY-MM-DD (default: 30 days before `to`)")
TO = Query("", alias="to", description="last UTC day, YYYY-MM-DD, inclusive (default: today)")
VOICE = Query("", max_length=64, description="only this voice's usage (default: every voice)")


class LatencyOut(BaseModel):
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, summary: billing_pb2.LatencySummary) -> LatencyOut:
        return cls(p50=summary.p50_seconds, p95=summary.p95_seconds, p99=summary.p99_seconds)


class UsageRowOut(BaseModel):
    key: str = Field(
        description="the group: a day (YYYY-MM-DD), month (YYYY-MM), voice id, language, model or tenant id "
        "(empty: not reported)"
    )
    requests: int = Field(description="finished requests, failed ones included")
    failures: int
    characters: int
    audio_seconds: float
    compute_seconds: float
    first_chunk_seconds: LatencyOut
    total_seconds: LatencyOut

    @classmethod
    def of(cls, row: billing_pb2.UsageRow) -> UsageRowOut:
        return cls(
            key=row.key,
            requests=row.requests,
            failures=row.failures,
            characters=row.characters,
            audio_seconds=round(row.audio_seconds, 3),
            compute_seconds=round(row.compute_seconds, 3),
            first_chunk_seconds=LatencyOut.of(row.first_chunk),
            total_seconds=LatencyOut.of(row.total),
        )


class UsageOut(BaseModel):
    tenant_id: str | None = Field(description="null: every tenant")
    from_date: str = Field(serialization_alias="from")
    to_date: str = Field(serialization_alias="to")
    group_by: str
    voice_id: str | None = Field(None, description="the voice the usage is filtered to (null: every voice)")
    rows: list[UsageRowOut]
    totals: UsageRowOut


class TopTenantsOut(BaseModel):
    rows: list[UsageRowOut]


class TenantStorageOut(BaseModel):
    tenant_id: str
    bytes: int
    objects: int


class StorageOut(BaseModel):
    tenants: list[TenantStorageOut]
    total_bytes: int


CSV_COLUMNS = (
    "requests",
    "failures",
    "characters",
    "audio_seconds",
    "compute_seconds",
    "first_chunk_p50_seconds",
    "first_chunk_p95_seconds",
    "first_chunk_p99_seconds",
    "total_p50_seconds",
    "total_p95_seconds",
    "total_p99_seconds",
)


def wants_csv(request: Request) -> bool:
    return CSV_TYPE in request.headers.get("accept", "").lower()


def csv_response(key_column: str, rows: list[billing_pb2.UsageRow], filename: str) -> Response:
    """One line per row, a header first; the key column is named after the grouping (day, voice, ...)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((key_column, *CSV_COLUMNS))
    for row in rows:
        latencies = (row.first_chunk, row.total)
        writer.writerow(
            (
                row.key,
                row.requests,
                row.failures,
                row.characters,
                f"{row.audio_seconds:.3f}",
                f"{row.compute_seconds:.3f}",
                *(f"{getattr(s, f'{p}_seconds'):.4f}" for s in latencies for p in ("p50", "p95", "p99")),
            )
        )
    return Response(
        out.getvalue(),
        media_type=f"{CSV_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def usage_answer(request: Request, reply: billing_pb2.QueryUsageResponse) -> UsageOut | Response:
    if wants_csv(request):
        return csv_response(reply.group_by, list(reply.rows), f"usage-{reply.from_date}-{reply.to_date}.csv")
    return UsageOut(
        tenant_id=reply.tenant_id or None,
        from_date=reply.from_date,
        to_date=reply.to_date,
        group_by=reply.group_by,
        voice_id=reply.voice_id or None,
        rows=[UsageRowOut.of(r) for r in reply.rows],
        totals=UsageRowOut.of(reply.totals),
    )


CSV_ANSWER: dict[int | str, dict] = {
    200: {"content": {CSV_TYPE: {"schema": {"type": "string"}}}, "description": "JSON, or CSV with Accept: text/csv"}
}


@router.get(
    "/v1/usage",
    response_model=UsageOut,
    response_model_by_alias=True,
    responses=CSV_ANSWER,
    summary="The tenant's usage per day, month, voice, language or model, of every voice or one (CSV with "
    "Accept: text/csv)",
)
def tenant_usage(
    request: Request,
    from_date: str = FROM,
    to_date: str = TO,
    group_by: TenantGroupBy = "day",
    voice_id: str = VOICE,
    caller: Caller = TenantCaller,
):
    reply = request.app.state.backends.analytics.QueryUsage(
        billing_pb2.QueryUsageRequest(from_date=from_date, to_date=to_date, group_by=group_by, voice_id=voice_id),
        metadata=caller.metadata,
    )
    return usage_answer(request, reply)


@router.get(
    "/v1/admin/usage",
    response_model=UsageOut,
    response_model_by_alias=True,
    responses=CSV_ANSWER,
    tags=["operator"],
    summary="Usage of one tenant or of all (operator), per day, month, voice, language, model or tenant",
)
def operator_usage(
    request: Request,
    from_date: str = FROM,
    to_date: str = TO,
    group_by: OperatorGroupBy = "day",
    tenant_id: str = Query("", description="empty: every tenant"),
    voice_id: str = VOICE,
    caller: Caller = OperatorCaller,
):
    reply = request.app.state.backends.analytics.QueryUsage(
        billing_pb2.QueryUsageRequest(
            tenant_id=tenant_id,
            all_tenants=not tenant_id,
            from_date=from_date,
            to_date=to_date,
            group_by=group_by,
            voice_id=voice_id,
        ),
        metadata=caller.metadata,
    )
    return usage_answer(request, reply)


@router.get(
    "/v1/admin/usage/top-tenants",
    response_model=TopTenantsOut,
    responses=CSV_ANSWER,
    tags=["operator"],
    summary="The tenants with the most usage in a range (operator)",
)
def top_tenants(
    request: Request,
    from_date: str = FROM,
    to_date: str = TO,
    order_by: OrderBy = "characters",
    limit: int = Query(10, ge=1, le=100),
    caller: Caller = OperatorCaller,
):
    reply = request.app.state.backends.analytics.ListTopTenants(
        billing_pb2.ListTopTenantsRequest(from_date=from_date, to_date=to_date, order_by=order_by, limit=limit),
        metadata=caller.metadata,
    )
    if wants_csv(request):
        return csv_response("tenant_id", list(reply.rows), "top-tenants.csv")
    return TopTenantsOut(rows=[UsageRowOut.of(r) for r in reply.rows])


@router.get(
    "/v1/admin/storage",
    response_model=StorageOut,
    tags=["operator"],
    summary="Bytes and objects held in object storage per tenant (operator)",
)
def tenant_storage(request: Request, caller: Caller = OperatorCaller) -> StorageOut:
    reply = request.app.state.backends.analytics.ListTenantStorage(
        billing_pb2.ListTenantStorageRequest(), metadata=caller.metadata
    )
    return StorageOut(
        tenants=[TenantStorageOut(tenant_id=t.tenant_id, bytes=t.bytes, objects=t.objects) for t in reply.tenants],
        total_bytes=reply.total_bytes,
    )
