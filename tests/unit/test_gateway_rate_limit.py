"""The gateway limits before it authenticates: bad keys are throttled and cost tenancy at most a burst."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.fakes.gateway import FakeTenancy, fake_backends

BURST = 3
GOOD = "tmb_good_secret"


def _gateway(tenancy: FakeTenancy) -> TestClient:
    settings = GatewaySettings(rate_limit_per_second=0.01, rate_limit_burst=BURST)
    return TestClient(create_app(settings, backends=fake_backends(tenancy=tenancy)), raise_server_exceptions=False)


def test_a_bad_key_is_throttled_before_tenancy_is_asked():
    tenancy = FakeTenancy(api_keys={GOOD: ("t-1", "k-1")})
    gateway = _gateway(tenancy)
    bad = {"Authorization": "Bearer tmb_good_wrongsecret"}
    answers = [gateway.get("/v1/api-keys", headers=bad) for _ in range(BURST + 3)]
    assert [a.status_code for a in answers] == [401] * BURST + [429] * 3
    limited = answers[-1]
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["reason"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert len(tenancy.issued) == BURST
    # Buckets are per credential: the good key (same public prefix) is untouched by the bad one.
    assert gateway.get("/v1/api-keys", headers={"Authorization": f"Bearer {GOOD}"}).status_code == 200


def test_a_good_key_over_its_burst_costs_no_tenancy_call():
    tenancy = FakeTenancy(api_keys={GOOD: ("t-1", "k-1")})
    gateway = _gateway(tenancy)
    codes = [gateway.get("/v1/api-keys", headers={"Authorization": f"Bearer {GOOD}"}).status_code for _ in range(5)]
    assert codes == [200] * BURST + [429] * 2
    assert len(tenancy.issued) == BURST


def test_callers_without_credentials_are_limited_by_address():
    tenancy = FakeTenancy()
    gateway = _gateway(tenancy)
    answers = [gateway.get("/v1/me") for _ in range(BURST + 2)]
    assert [a.status_code for a in answers] == [401] * BURST + [429] * 2
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert tenancy.issued == []


def test_operator_routes_are_limited_before_the_secret_is_checked():
    tenancy = FakeTenancy()
    gateway = _gateway(tenancy)
    bad = {"Authorization": "Bearer not-the-operator"}
    codes = [gateway.post("/v1/tenants", json={"name": "x"}, headers=bad).status_code for _ in range(BURST + 2)]
    assert codes == [401] * BURST + [429] * 2
    assert len(tenancy.issued) == BURST
