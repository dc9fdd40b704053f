"""Tenancy as seen by other services: a service token (renewed before expiry) and quota calls."""

from __future__ import annotations

import grpc

from kit.config import KitSettings
from kit.errors import FailedPrecondition
from kit.grpc.client import CachedToken, open_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


class TenancyClient:
    def __init__(self, settings: KitSettings, service_name: str) -> None:
        if settings.service_secret is None:
            raise FailedPrecondition("TIMBRE_SERVICE_SECRET is not set: this service cannot call tenancy")
        self._secret = settings.service_secret.get_secret_value()
        self._service_name = service_name
        self._plain = open_channel(settings.tenancy_addr)
        self.token = CachedToken(self._issue)
        self._channel = open_channel(settings.tenancy_addr, token=self.token)
        self.stub = tenancy_pb2_grpc.TenancyServiceStub(self._channel)

    def _issue(self) -> tuple[str, float]:
        reply = tenancy_pb2_grpc.TenancyServiceStub(self._plain).IssueToken(
            tenancy_pb2.IssueTokenRequest(
                service=tenancy_pb2.ServiceGrant(service_name=self._service_name, secret=self._secret)
            )
        )
        return reply.access_token, reply.expire_time.seconds

    def jwks(self) -> str:
        return tenancy_pb2_grpc.TenancyServiceStub(self._plain).GetJwks(tenancy_pb2.GetJwksRequest()).jwks_json

    def reserve(self, tenant_id: str, **amounts) -> str:
        return self.stub.ReserveQuota(tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, **amounts)).reservation_id

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        self.stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=reservation_id, characters=characters))

    def release(self, reservation_id: str) -> None:
        try:
            self.stub.ReleaseQuota(tenancy_pb2.ReleaseQuotaRequest(reservation_id=reservation_id))
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None:
        self.stub.ReleaseVoiceProfile(tenancy_pb2.ReleaseVoiceProfileRequest(tenant_id=tenant_id, voice_id=voice_id))

    def close(self) -> None:
        self._channel.close()
        self._plain.close()


def jwks_fetcher(address: str):
    """A JWKS source for JwksVerifier: asks tenancy's public GetJwks (the verifier caches it)."""

    def fetch() -> str:
        with grpc.insecure_channel(address) as channel:
            return (
                tenancy_pb2_grpc.TenancyServiceStub(channel).GetJwks(tenancy_pb2.GetJwksRequest(), timeout=5).jwks_json
            )

    return fetch
