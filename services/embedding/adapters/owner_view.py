"""What the owner link's view reads from other services, as the embedding service (role "service"):
the tenant's name from tenancy (TenantDirectory), the voice's usage per month from billing's analytics
(VoiceUsage). A failed call is Unavailable: the owner sees a 503 to retry, never another service's
error (nor zeros that would claim the voice was unused)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar, cast

import grpc

from kit.clients.billing import BillingConnection
from kit.clients.tenancy import TenancyConnection
from kit.errors import Unavailable
from kit.logging import get_logger
from services.embedding.domain.owner_link import MonthlyGenerations
from timbre.v1 import billing_pb2, tenancy_pb2

log = get_logger("owner_view")
T = TypeVar("T")
RETRY_AFTER_SECONDS = 5


def _asking(service: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except grpc.RpcError as error:
        code = cast(grpc.Call, error).code()
        log.warning("owner_view_upstream_failed", upstream=service, code=code.name if code else "")
        raise Unavailable(
            f"the voice's {'usage history' if service == 'billing' else 'tenant'} cannot be read right now; "
            "retry shortly",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        ) from error


class TenancyDirectory:
    def __init__(self, tenancy: TenancyConnection) -> None:
        self._tenancy = tenancy

    def tenant_name(self, tenant_id: str) -> str:
        request = tenancy_pb2.GetTenantRequest(tenant_id=tenant_id)
        return _asking("tenancy", lambda: self._tenancy.stub.GetTenant(request)).tenant.name


class BillingVoiceUsage:
    def __init__(self, billing: BillingConnection) -> None:
        self._billing = billing

    def monthly(self, tenant_id: str, voice_id: str, first: date, last: date) -> list[MonthlyGenerations]:
        request = billing_pb2.QueryUsageRequest(
            tenant_id=tenant_id,
            voice_id=voice_id,
            from_date=first.isoformat(),
            to_date=last.isoformat(),
            group_by="month",
        )
        reply = _asking("billing", lambda: self._billing.analytics.QueryUsage(request))
        return [MonthlyGenerations(row.key, row.requests, row.characters, row.audio_seconds) for row in reply.rows]
