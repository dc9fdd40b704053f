"""The gateway's credential cache against the real tenancy (its outbox relay publishing) and Kafka: a
revoked key and a tier change reach the gateway through the tenant topic; without its listener's word
the cache asks tenancy every time.

Tenancy runs in a database of its own: an outbox relay is elected per database, and another test run
sharing `timbre_test` could otherwise publish this test's events under its own topic prefix.

The TTL is set far above what is asserted (120 s), so a refusal within the bound can only have come
from the event, not from the entry ageing out."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.credential_cache import CredentialCache
from gateway.revocation_listener import RevocationListener
from kit.grpc.client import open_channel
from kit.grpc.convert import TIER_CODES
from tests.integration.conftest import bearer
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

pytestmark = pytest.mark.integration

TTL = 120.0
# With Kafka up: tenancy's relay polls its outbox every 0.2 s, the listener's fetch waits ≤ 50 ms, and
# the cache turns itself off when the listener has not vouched for 3 s; measured 0.1–1.3 s on the shared
# 2-core machine. The bound asserted leaves room for its load; the figure measured is printed.
REVOCATION_BOUND_SECONDS = 5.0


DATABASE = "timbre_test_gateway_cache"


@pytest.fixture(scope="module")
def own_tenancy(infra, engine):
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, REPO, SCHEMAS
    from kit.db.migrations import upgrade
    from services.tenancy.config import TenancySettings
    from services.tenancy.main import build

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    ensure_database(PG_PORT, DATABASE)
    database_url = str(make_url(infra.database_url).set(database=DATABASE))
    upgrade(REPO / SCHEMAS["tenancy"], "tenancy", database_url)
    process = build(TenancySettings(database_url=database_url, grpc_port=0, metrics_port=0)).start()
    address = f"127.0.0.1:{process.port}"
    channel = open_channel(address)
    yield address, tenancy_pb2_grpc.TenancyServiceStub(channel)
    channel.close()
    process.stop()


@pytest.fixture
def tenant(own_tenancy, infra):
    """Factory: a fresh tenant of a tier at this module's tenancy → (tenant_id, API key, key id, its token)."""
    _, stub = own_tenancy
    operator = stub.IssueToken(
        tenancy_pb2.IssueTokenRequest(operator_secret=infra.operator_secret.get_secret_value())
    ).access_token

    def create(tier: str) -> tuple[str, str, str, str]:
        reply = stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=f"cache-{time.monotonic_ns()}", tier=TIER_CODES[tier]),
            metadata=bearer(operator),
        )
        token = stub.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=reply.api_key_secret)).access_token
        return reply.tenant.tenant_id, reply.api_key_secret, reply.api_key.key_id, token

    return create


@contextmanager
def caching_gateway(tenancy: str, bootstrap: str, prefix: str):
    cache = CredentialCache(ttl_seconds=TTL, listener_stale_seconds=3.0, hold_seconds=TTL)
    listener = RevocationListener(cache, bootstrap, prefix, heartbeat_seconds=0.2)
    settings = GatewaySettings(
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        tenancy_addr=tenancy,
        billing_addr="127.0.0.1:1",
        synthesis_addr="127.0.0.1:1",
        watermark_addr="127.0.0.1:1",
        embedding_addr="127.0.0.1:1",
    )
    with TestClient(
        create_app(settings, credentials=cache, listener=listener), raise_server_exceptions=False
    ) as client:
        yield client, cache, listener


def _wait_vouched(cache: CredentialCache, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cache.healthy():
        assert time.monotonic() < deadline, "the revocation listener never caught up with the tenant topic"
        time.sleep(0.05)


def _status(client: TestClient, secret: str) -> int:
    return client.get("/v1/api-keys", headers={"Authorization": f"Bearer {secret}"}).status_code


def _until_refused(client: TestClient, secret: str, since: float, bound: float) -> float:
    while (status := _status(client, secret)) != 401:
        assert status == 200 and time.perf_counter() - since < bound + 10, f"{status}: the revoked key still works"
        time.sleep(0.01)
    return time.perf_counter() - since


def test_a_revoked_key_is_refused_within_the_bound(infra, own_tenancy, tenant):
    address, stub = own_tenancy
    _, secret, key_id, token = tenant("pro")
    with caching_gateway(address, infra.kafka_bootstrap, infra.topic_prefix) as (client, cache, listener):
        _wait_vouched(cache)
        assert [_status(client, secret) for _ in range(3)] == [200, 200, 200]
        assert cache.stats.hits >= 2  # served from the cache, so only the event can stop it now

        stub.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=key_id), metadata=bearer(token))
        delay = _until_refused(client, secret, time.perf_counter(), REVOCATION_BOUND_SECONDS)
        print(f"\nrevocation reached the caching gateway {delay * 1000:.0f} ms after RevokeApiKey returned")
        assert delay < REVOCATION_BOUND_SECONDS
        assert listener.applied == 1 and len(cache) == 0


def test_a_tier_change_evicts_the_tenants_tokens(infra, own_tenancy, tenant):
    address, stub = own_tenancy
    tenant_id, secret, _, _ = tenant("free")
    operator = stub.IssueToken(
        tenancy_pb2.IssueTokenRequest(operator_secret=infra.operator_secret.get_secret_value())
    ).access_token
    with caching_gateway(address, infra.kafka_bootstrap, infra.topic_prefix) as (client, cache, listener):
        _wait_vouched(cache)
        assert _status(client, secret) == 200 and len(cache) == 1
        stub.ChangeTier(
            tenancy_pb2.ChangeTierRequest(tenant_id=tenant_id, tier=TIER_CODES["pro"]), metadata=bearer(operator)
        )
        deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
        while not listener.applied and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.applied == 1 and len(cache) == 0, f"TenantTierChanged did not evict: {cache.stats}"
        _wait_vouched(cache)
        assert _status(client, secret) == 200
        [(_, kept)] = cache._entries.items()
        assert kept.credential.tier == TIER_CODES["pro"], "the new token carries the new tier"


def test_without_kafka_the_cache_is_bypassed_and_a_revocation_bites_at_once(infra, own_tenancy, tenant):
    address, stub = own_tenancy
    _, secret, key_id, token = tenant("pro")
    # Nothing listens on port 1: the listener can never vouch, so nothing is served from the cache.
    with caching_gateway(address, "127.0.0.1:1", infra.topic_prefix) as (client, cache, _):
        assert [_status(client, secret) for _ in range(3)] == [200, 200, 200]
        assert cache.stats.hits == 0 and cache.stats.bypassed == 3 and len(cache) == 0
        stub.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=key_id), metadata=bearer(token))
        assert _status(client, secret) == 401


def test_the_async_job_status_read_maps_upstream_errors_like_the_others(infra, own_tenancy, tenant):
    # GET /v1/jobs/{id} awaits grpc.aio (opened in the lifespan): its errors still become problem+json.
    address, _ = own_tenancy
    _, secret, _, _ = tenant("pro")
    with caching_gateway(address, infra.kafka_bootstrap, infra.topic_prefix) as (client, _, _):
        assert client.app.state.reads is not None  # type: ignore[attr-defined]
        reply = client.get(
            "/v1/jobs/00000000-0000-4000-8000-000000000000", headers={"Authorization": f"Bearer {secret}"}
        )
    assert reply.status_code == 503 and reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["reason"] == "UNAVAILABLE"
