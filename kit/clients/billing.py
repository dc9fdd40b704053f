"""Calling billing as a service: a channel that carries this service's own token (the one its tenancy
connection holds: kit/clients/tenancy.py), for the analytics a service reads on a tenant's behalf."""

from __future__ import annotations

from kit.config import KitSettings
from kit.grpc.client import TokenProvider, open_channel
from timbre.v1 import billing_pb2_grpc


class BillingConnection:
    """UsageAnalyticsService with the caller's service identity (role "service": it names the tenant
    in each request). Each service wraps the calls it needs in an adapter of its own port (e.g.
    services/embedding/adapters/owner_view.py)."""

    def __init__(self, settings: KitSettings, token: TokenProvider, timeout_seconds: float = 5.0) -> None:
        self._channel = open_channel(settings.billing_addr, token=token, default_timeout=timeout_seconds)
        self.analytics = billing_pb2_grpc.UsageAnalyticsServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()
