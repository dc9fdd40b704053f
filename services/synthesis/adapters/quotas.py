"""The Quotas port over tenancy: characters, a concurrency slot and the format, reserved per generation."""

from __future__ import annotations

from kit.clients.tenancy import TenancyConnection, ignore_not_found
from timbre.v1 import tenancy_pb2


class TenancyQuotas:
    def __init__(self, tenancy: TenancyConnection) -> None:
        self._tenancy = tenancy

    def reserve(
        self,
        tenant_id: str,
        *,
        characters: int,
        job_slots: int,
        format: int,
        ttl_seconds: int,
        idempotency_key: str,
    ) -> str:
        request = tenancy_pb2.ReserveQuotaRequest(
            tenant_id=tenant_id,
            characters=characters,
            job_slots=job_slots,
            format=format,  # type: ignore[arg-type]  # an AudioFormat code; the stub types it as the enum
            ttl_seconds=ttl_seconds,
            idempotency_key=idempotency_key,
        )
        return self._tenancy.stub.ReserveQuota(request).reservation_id

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        self._tenancy.stub.CommitQuota(
            tenancy_pb2.CommitQuotaRequest(reservation_id=reservation_id, characters=characters)
        )

    def release(self, reservation_id: str) -> None:
        request = tenancy_pb2.ReleaseQuotaRequest(reservation_id=reservation_id)
        ignore_not_found(lambda: self._tenancy.stub.ReleaseQuota(request))
