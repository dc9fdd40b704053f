"""The REST gateway over the real services: auth, revocation, isolation, problem+json, limits."""

from __future__ import annotations

import pytest

from tests.fakes.gateway_health import SERVING, health_server

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response, status: int, reason: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and "request_id" in body
    if reason:
        assert body["reason"] == reason
    return body


def test_operator_creates_tenant_and_tenant_reads_me(gateway, settings):
    operator = auth(settings.operator_secret.get_secret_value())
    created = gateway.post("/v1/tenants", json={"name": "Studio", "tier": "pro"}, headers=operator)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["api_key"]["api_key"].startswith("tmb_") and body["tenant"]["tier"] == "pro"

    me = gateway.get("/v1/me", headers=auth(body["api_key"]["api_key"]))
    assert me.status_code == 200
    assert me.headers["x-request-id"]
    data = me.json()
    assert data["tenant"]["id"] == body["tenant"]["id"]
    assert data["limits"] == {
        "characters_per_month": 500000,
        "voice_profiles": 10,
        "concurrent_jobs": 5,
        "formats": ["mp3", "wav", "flac", "pcm_16000", "pcm_22050", "pcm_24000", "ulaw_8000"],
    }
    assert data["usage"]["characters_used"] == 0 and data["usage"]["period"]

    assert_problem(gateway.post("/v1/tenants", json={"name": "x"}, headers=auth("wrong")), 401)
    assert_problem(gateway.post("/v1/tenants", json={"name": "x"}, headers=auth(body["api_key"]["api_key"])), 401)


def test_revoked_key_gets_401_on_its_next_request(gateway, new_tenant):
    _, key, _ = new_tenant("free")
    second = gateway.post("/v1/api-keys", json={"name": "ci"}, headers=auth(key))
    assert second.status_code == 201
    new_key, new_id = second.json()["api_key"], second.json()["id"]
    assert gateway.get("/v1/me", headers=auth(new_key)).status_code == 200
    revoked = gateway.delete(f"/v1/api-keys/{new_id}", headers=auth(key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_problem(gateway.get("/v1/me", headers=auth(new_key)), 401, "API_KEY_REVOKED")
    assert gateway.get("/v1/me", headers=auth(key)).status_code == 200  # the other key is untouched
    listed = gateway.get("/v1/api-keys", headers=auth(key)).json()["items"]
    assert all("api_key" not in item for item in listed)
    assert {i["id"] for i in listed if i["revoked_at"]} == {new_id}


def test_another_tenants_key_is_404_and_stays_valid(gateway, new_tenant):
    _, a_key, a_key_id = new_tenant("free")
    _, b_key, b_key_id = new_tenant("free")
    assert_problem(gateway.delete(f"/v1/api-keys/{b_key_id}", headers=auth(a_key)), 404, "NOT_FOUND")
    assert_problem(gateway.delete("/v1/api-keys/00000000-0000-0000-0000-000000000000", headers=auth(a_key)), 404)
    assert gateway.get("/v1/me", headers=auth(b_key)).status_code == 200


def test_malformed_requests_get_problem_bodies(gateway, new_tenant):
    _, key, _ = new_tenant("free")
    assert_problem(
        gateway.post("/v1/api-keys", content=b"{nope", headers={**auth(key), "content-type": "application/json"}),
        400,
        "INVALID_ARGUMENT",
    )
    body = assert_problem(gateway.post("/v1/api-keys", json={"name": "x" * 300}, headers=auth(key)), 422)
    assert body["errors"][0]["location"] == ["body", "name"]
    assert_problem(gateway.post("/v1/api-keys", json={"unknown": 1}, headers=auth(key)), 422)
    assert_problem(gateway.get("/v1/api-keys?page_size=1000", headers=auth(key)), 422)
    assert_problem(gateway.get("/v1/me"), 401)
    assert_problem(gateway.get("/v1/me", headers={"Authorization": "Basic abc"}), 401)
    assert_problem(gateway.get("/v1/nothing-here", headers=auth(key)), 404)


def test_rate_limit_answers_429_with_retry_after(gateway_factory, new_tenant):
    gateway = gateway_factory(rate_limit_per_second=0.5, rate_limit_burst=3)
    _, key, _ = new_tenant("free")
    codes = [gateway.get("/v1/me", headers=auth(key)).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = gateway.get("/v1/me", headers=auth(key))
    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1
    _, other, _ = new_tenant("free")
    assert gateway.get("/v1/me", headers=auth(other)).status_code == 200  # limits are per key


def test_bad_keys_are_throttled_before_tenancy_is_asked(gateway_factory, new_tenant):
    gateway = gateway_factory(rate_limit_per_second=0.5, rate_limit_burst=3)
    _, key, _ = new_tenant("free")
    wrong = key[:-4] + "xxxx"  # the real key's prefix, a wrong secret
    codes = [gateway.get("/v1/me", headers=auth(wrong)).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert gateway.get("/v1/me", headers=auth(key)).status_code == 200  # the real key keeps its own bucket


def test_token_exchange_jwks_health_and_openapi(embedding, watermark, gateway_factory, new_tenant):
    # /ready asks synthesis too; a health endpoint is all of it this test needs.
    with health_server(SERVING) as synthesis:
        gateway = gateway_factory(watermark_addr=watermark[0], synthesis_addr=synthesis)
        _, key, _ = new_tenant("free")
        assert gateway.get("/v1/me", headers=auth(key)).status_code == 200
        token = gateway.post("/v1/tokens", headers=auth(key)).json()
        assert token["token_type"] == "Bearer" and token["access_token"].count(".") == 2
        jwks = gateway.get("/.well-known/jwks.json").json()
        assert jwks["keys"] and jwks["keys"][0]["kty"] == "OKP"
        assert gateway.get("/health").json() == {"status": "ok"}
        ready = gateway.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "tenancy": "SERVING",
            "billing": "SERVING",
            "embedding": "SERVING",
            "watermark": "SERVING",
            "synthesis": "SERVING",
        }
        spec = gateway.get("/openapi.json").json()
        assert {"/v1/tenants", "/v1/api-keys", "/v1/api-keys/{key_id}", "/v1/me", "/v1/jobs/{job_id}/audio"} <= set(
            spec["paths"]
        )
        metrics = gateway.get("/metrics").text
        assert 'timbre_http_requests_total{method="GET",route="/v1/me",status="200"}' in metrics
