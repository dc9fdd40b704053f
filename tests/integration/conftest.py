"""Fixtures over the real stack: infrastructure, an in-process tenancy server, tokens, tenants."""

from __future__ import annotations

import uuid

import grpc
import pytest

from kit.grpc.client import open_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


@pytest.fixture(scope="session")
def tenancy(infra):
    """A real tenancy server (gRPC on a free port, relay and sweeper running) in this process."""
    from services.tenancy.config import TenancySettings
    from services.tenancy.main import build

    process = build(TenancySettings(grpc_port=0, metrics_port=0, quota_sweep_seconds=1.0)).start()
    address = f"127.0.0.1:{process.port}"
    yield address
    process.stop()


@pytest.fixture(scope="session")
def issue(tenancy):
    def issue_token(request: tenancy_pb2.IssueTokenRequest) -> str:
        with open_channel(tenancy) as channel:
            return tenancy_pb2_grpc.TenancyServiceStub(channel).IssueToken(request).access_token

    return issue_token


@pytest.fixture(scope="session")
def operator_token(issue, settings) -> str:
    return issue(tenancy_pb2.IssueTokenRequest(operator_secret=settings.operator_secret.get_secret_value()))


@pytest.fixture(scope="session")
def service_token(issue, settings) -> str:
    return issue(
        tenancy_pb2.IssueTokenRequest(
            service=tenancy_pb2.ServiceGrant(
                service_name="synthesis", secret=settings.service_secret.get_secret_value()
            )
        )
    )


@pytest.fixture(scope="session")
def tenancy_stub(tenancy):
    channel = open_channel(tenancy)
    yield tenancy_pb2_grpc.TenancyServiceStub(channel)
    channel.close()


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
def new_tenant(tenancy_stub, operator_token):
    """Factory: a fresh tenant of a tier → (tenant_id, api_key secret, key_id)."""

    def create(tier: str = "free") -> tuple[str, str, str]:
        from kit.grpc.convert import TIER_CODES

        reply = tenancy_stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=f"t-{uuid.uuid4().hex[:8]}", tier=TIER_CODES[tier]),
            metadata=bearer(operator_token),
        )
        return reply.tenant.tenant_id, reply.api_key_secret, reply.api_key.key_id

    return create


def wait_serving(address: str, timeout: float = 30.0, gave_up=None) -> None:
    """Until the server at `address` reports SERVING (a port not yet open counts as not yet);
    `gave_up()` returning a reason stops the wait early (e.g. the server's process exited)."""
    import time

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            reason = gave_up() if gave_up else None
            if reason:
                raise AssertionError(f"{address} will not serve: {reason}")
            time.sleep(0.05)
    raise AssertionError(f"{address} did not report SERVING within {timeout:.0f}s")


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


@pytest.fixture(scope="session")
def billing(infra, tenancy):
    """A billing server without its consumers (tests drive consumers themselves)."""
    from services.billing.config import BillingSettings
    from services.billing.main import build

    process = build(BillingSettings(grpc_port=0, metrics_port=0, run_workers=False, tenancy_addr=tenancy)).start()
    yield f"127.0.0.1:{process.port}"
    process.stop()


@pytest.fixture
def gateway_factory(tenancy, billing, request):
    """Build a gateway TestClient over the real services, with optional setting overrides."""
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.config import GatewaySettings

    clients = []

    embedding_addr = (
        request.getfixturevalue("embedding").address if "embedding" in request.fixturenames else "127.0.0.1:1"
    )

    def make(**overrides) -> TestClient:
        overrides.setdefault("watermark_addr", "127.0.0.1:1")
        settings = GatewaySettings(
            tenancy_addr=tenancy, billing_addr=billing, embedding_addr=embedding_addr, **overrides
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def gateway(gateway_factory):
    return gateway_factory()


@pytest.fixture(scope="session")
def embedding(infra, tenancy):
    """A real embedding service in this process (its consumers, relay and index sync running)."""
    from services.embedding.config import EmbeddingSettings
    from services.embedding.main import EmbeddingApp

    # Voices are ready once embedded here; the synthesis tests run their own builds.
    app = EmbeddingApp(
        EmbeddingSettings(grpc_port=0, metrics_port=0, tenancy_addr=tenancy, voices_built_by_synthesis=False)
    )
    process = app.process().start()
    assert app.index_sync.caught_up.wait(60), "speaker index did not load"
    app.address = f"127.0.0.1:{process.port}"
    wait_serving(app.address)
    yield app
    process.stop()


@pytest.fixture(scope="session")
def embedding_stub(embedding):
    from timbre.v1 import embedding_pb2_grpc

    channel = open_channel(embedding.address)
    yield embedding_pb2_grpc.EmbeddingServiceStub(channel)
    channel.close()


@pytest.fixture(scope="session")
def watermark(infra, tenancy):
    """A real watermark service in this process, with a random key for the run."""

    from services.watermark.config import WatermarkSettings
    from services.watermark.main import build

    settings = WatermarkSettings(grpc_port=0, metrics_port=0, tenancy_addr=tenancy)
    process = build(settings).start()
    yield f"127.0.0.1:{process.port}", settings
    process.stop()


@pytest.fixture(scope="session")
def stripe_mock() -> str:
    """The local stripe-mock (started through devstack if needed): its base URL (docs/stripe-local.md)."""
    from devstack.infra import stripe_mock_up
    from devstack.stack import STRIPE_MOCK_HTTPS_PORT, STRIPE_MOCK_PORT, state_paths

    return stripe_mock_up(state_paths(), STRIPE_MOCK_PORT, STRIPE_MOCK_HTTPS_PORT)


@pytest.fixture
def stripe_proxy(stripe_mock):
    """A recording, fault-injecting proxy in front of stripe-mock (tests/integration/stripe_proxy.py);
    `stripe_proxy.url` is the api base, `stripe_proxy.client()` an SDK client pointed at it."""
    from tests.integration.stripe_proxy import StripeProxy

    proxy = StripeProxy(stripe_mock).start()
    yield proxy
    proxy.stop()
