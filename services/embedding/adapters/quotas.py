"""The Quotas port over tenancy: one voice profile reserved per enrollment, given back on deletion."""

from __future__ import annotations

from kit.clients.tenancy import TenancyConnection, ignore_not_found
from timbre.v1 import tenancy_pb2


class TenancyQuotas:
    def __init__(self, tenancy: TenancyConnection) -> None:
        self._tenancy = tenancy

    def reserve(
        self, tenant_id: str, *, voice_profiles: int, voice_id: str, idempotency_key: str, ttl_seconds: int
    ) -> str:
        request = tenancy_pb2.ReserveQuotaRequest(
            tenant_id=tenant_id,
            voice_profiles=voice_profiles,
            voice_id=voice_id,
            idempotency_key=idempotency_key,
            ttl_seconds=ttl_seconds,
        )
        return self._tenancy.stub.ReserveQuota(request).reservation_id

    def commit(self, reservation_id: str) -> None:
        self._tenancy.stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=reservation_id, characters=-1))

    def release(self, reservation_id: str) -> None:
        request = tenancy_pb2.ReleaseQuotaRequest(reservation_id=reservation_id)
        ignore_not_found(lambda: self._tenancy.stub.ReleaseQuota(request))

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None:
        self._tenancy.stub.ReleaseVoiceProfile(
            tenancy_pb2.ReleaseVoiceProfileRequest(tenant_id=tenant_id, voice_id=voice_id)
        )
