"""Calling tenancy as a service: a channel with this service's token, and tenancy's public JWKS."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import grpc

from kit.config import KitSettings
from kit.errors import FailedPrecondition
from kit.grpc.client import CachedToken, open_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


class TenancyConnection:
    """A channel to tenancy that carries this service's own token (issued for the deployment's service
    secret, renewed before it expires). Each service wraps the calls it needs in an adapter of its own
    port (e.g. services/synthesis/adapters/quotas.py); what those calls mean is the service's business."""

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

    def close(self) -> None:
        self._channel.close()
        self._plain.close()


def ignore_not_found(call: Callable[[], object]) -> None:
    """Runs a tenancy call whose target may already be gone (a retried release): NOT_FOUND is success."""
    try:
        call()
    except grpc.RpcError as error:
        if cast(grpc.Call, error).code() != grpc.StatusCode.NOT_FOUND:
            raise


def jwks_fetcher(address: str):
    """A JWKS source for JwksVerifier: asks tenancy's public GetJwks (the verifier caches it)."""

    def fetch() -> str:
        with grpc.insecure_channel(address) as channel:
            return (
                tenancy_pb2_grpc.TenancyServiceStub(channel).GetJwks(tenancy_pb2.GetJwksRequest(), timeout=5).jwks_json
            )

    return fetch
