"""UsageAnalyticsService RPCs: authorise, translate, delegate to the analytics use cases, translate back.
A tenant sees its own usage only; every tenant's (all_tenants, group_by "tenant"), top tenants and
storage are the operator's."""

from __future__ import annotations

from kit.grpc.auth import current_principal
from services.billing.domain.analytics import Percentiles, UsageRow
from services.billing.service_layer.analytics import Analytics
from timbre.v1 import billing_pb2, billing_pb2_grpc


def latency(p: Percentiles) -> billing_pb2.LatencySummary:
    return billing_pb2.LatencySummary(p50_seconds=p.p50, p95_seconds=p.p95, p99_seconds=p.p99)


def usage_row(row: UsageRow) -> billing_pb2.UsageRow:
    return billing_pb2.UsageRow(
        key=row.key,
        requests=row.requests,
        failures=row.failures,
        characters=row.characters,
        audio_seconds=row.audio_seconds,
        compute_seconds=row.compute_seconds,
        first_chunk=latency(row.first_chunk),
        total=latency(row.total),
    )


class UsageAnalyticsServicer(billing_pb2_grpc.UsageAnalyticsServiceServicer):
    def __init__(self, analytics: Analytics) -> None:
        self.analytics = analytics

    def QueryUsage(self, request, context):
        principal = current_principal()
        tenant_id: str | None
        if request.all_tenants or request.group_by == "tenant":
            principal.require_operator()
        if request.all_tenants:
            tenant_id = None
        elif principal.is_privileged and not request.tenant_id and request.group_by == "tenant":
            tenant_id = None  # grouped by tenant without naming one: every tenant
        else:
            tenant_id = principal.tenant_scope(request.tenant_id)
        found = self.analytics.usage(tenant_id, request.from_date, request.to_date, request.group_by, request.voice_id)
        return billing_pb2.QueryUsageResponse(
            tenant_id=found.tenant_id,
            voice_id=found.voice_id,
            from_date=found.first.isoformat(),
            to_date=found.last.isoformat(),
            group_by=found.group_by,
            rows=[usage_row(r) for r in found.rows],
            totals=usage_row(found.totals),
        )

    def ListTopTenants(self, request, context):
        current_principal().require_operator()
        rows = self.analytics.top_tenants(request.from_date, request.to_date, request.order_by, request.limit)
        return billing_pb2.ListTopTenantsResponse(rows=[usage_row(r) for r in rows])

    def ListTenantStorage(self, request, context):
        current_principal().require_operator()
        tenants = self.analytics.tenant_storage()
        return billing_pb2.ListTenantStorageResponse(
            tenants=[
                billing_pb2.TenantStorage(tenant_id=t.tenant_id, bytes=t.bytes, objects=t.objects) for t in tenants
            ],
            total_bytes=sum(t.bytes for t in tenants),
        )
