"""The voice owner's REST routes on fakes: the link in the consent's answer (once), a new link, the owner's
view and revocation with the link's token (never an API key, never forwarded as metadata), 401/404 as
problem+json, limits per client address and per token, and the OpenAPI document that says all that."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.grpc.client_address import CLIENT_ADDRESS_KEY
from tests.fakes.gateway import FakeEmbedding, FakeTenancy, fake_backends
from timbre.v1 import embedding_pb2

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOKEN = "tvo_" + "A" * 43
NEW_TOKEN = "tvo_" + "B" * 43
OWNER = {"Authorization": f"Bearer {TOKEN}"}
USES = [
    "fraud_impersonation",
    "non_consensual_content",
    "political_manipulation",
    "harassment_defamation",
    "undisclosed_deepfake",
]


def _view() -> embedding_pb2.OwnerConsentView:
    view = embedding_pb2.OwnerConsentView(
        consent_id="c-1",
        voice_id="v-1",
        voice_name="Narrator",
        owner_name="Fiona",
        tenant_name="Acme Audiobooks",
        purpose="podcast",
        status=embedding_pb2.CONSENT_STATUS_ACTIVE,
        generations=[
            embedding_pb2.MonthlyGenerations(month=f"2026-{m:02d}", requests=m, characters=10 * m, audio_seconds=0.5)
            for m in range(1, 13)
        ],
    )
    view.grant_time.FromSeconds(1_790_000_000)
    view.expire_time.FromSeconds(1_820_000_000)
    return view


@pytest.fixture
def embedding() -> FakeEmbedding:
    return FakeEmbedding(owner_token=NEW_TOKEN, owner_views={TOKEN: _view()})


@pytest.fixture
def tenancy() -> FakeTenancy:
    return FakeTenancy(api_keys={KEY: ("t-1", "k-1")})


def _gateway(embedding: FakeEmbedding, tenancy: FakeTenancy, **settings) -> TestClient:
    settings.setdefault("public_url", "https://voices.example.com/")
    app = create_app(GatewaySettings(**settings), backends=fake_backends(tenancy=tenancy, embedding=embedding))
    return TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 50000))


@pytest.fixture
def gateway(embedding, tenancy) -> TestClient:
    return _gateway(embedding, tenancy)


def _problem(answer, status: int, reason: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["reason"] == reason
    return answer.json()


def test_the_consents_answer_carries_the_owner_link_once(gateway, embedding):
    granted = gateway.post(
        "/v1/voices/v-1/consent",
        headers=AUTH,
        data={
            "challenge_id": "ch-1",
            "owner_name": "Fiona",
            "purpose": "podcast",
            "expires_at": "2030-01-01T00:00:00+00:00",
            "prohibited_uses_acknowledged": USES,
        },
        files={"file": ("c.wav", b"RIFF....", "audio/wav")},
    )
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert body["owner_token"] == NEW_TOKEN
    assert body["owner_url"] == f"https://voices.example.com/console/owner/{NEW_TOKEN}"
    later = gateway.get("/v1/voices/v-1/consent", headers=AUTH).json()
    assert (later["owner_token"], later["owner_url"]) == (None, None)


def test_a_new_owner_link_answers_201_with_the_token_and_its_url(gateway, embedding):
    answer = gateway.post("/v1/voices/v-1/consent/owner-link", headers=AUTH)
    assert answer.status_code == 201
    assert answer.json() == {
        "owner_token": NEW_TOKEN,
        "owner_url": f"https://voices.example.com/console/owner/{NEW_TOKEN}",
    }
    assert embedding.owner_requests[-1].voice_id == "v-1"
    assert ("authorization", "Bearer token-k-1") in embedding.metadata[-1]  # the tenant's own token
    _problem(gateway.post("/v1/voices/v-9/consent/owner-link", headers=AUTH), 404, "NOT_FOUND")
    _problem(gateway.post("/v1/voices/v-1/consent/owner-link"), 401, "UNAUTHENTICATED")


def test_the_owner_reads_the_view_with_the_links_token_and_no_api_key(gateway, embedding, tenancy):
    answer = gateway.get("/v1/owner/consent", headers=OWNER)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("voice_id", "voice_name", "owner_name", "tenant_name", "purpose", "status")} == {
        "voice_id": "v-1",
        "voice_name": "Narrator",
        "owner_name": "Fiona",
        "tenant_name": "Acme Audiobooks",
        "purpose": "podcast",
        "status": "active",
    }
    assert body["granted_at"].startswith("2026-") and body["expires_at"] and body["revoked_at"] is None
    assert body["generations"][0] == {"month": "2026-01", "requests": 1, "characters": 10, "audio_seconds": 0.5}
    assert [g["month"] for g in body["generations"]][-1] == "2026-12" and len(body["generations"]) == 12
    assert set(body) == {
        "voice_id",
        "voice_name",
        "owner_name",
        "tenant_name",
        "purpose",
        "status",
        "granted_at",
        "expires_at",
        "revoked_at",
        "generations",
    }
    # The token travels in the request message; the metadata names the client's address only.
    assert embedding.owner_requests[-1].owner_token == TOKEN
    assert embedding.metadata[-1] == [(CLIENT_ADDRESS_KEY, "203.0.113.7")]
    assert tenancy.issued == []  # not an API key: tenancy is never asked


def test_the_owner_revokes_and_revoking_again_still_answers_200(gateway):
    first = gateway.post("/v1/owner/consent/revoke", headers=OWNER)
    assert first.status_code == 200 and first.json()["status"] == "revoked" and first.json()["revoked_at"]
    second = gateway.post("/v1/owner/consent/revoke", headers=OWNER)
    assert second.status_code == 200 and second.json()["status"] == "revoked"


def test_a_missing_token_is_401_and_an_unknown_or_malformed_one_404(gateway, embedding):
    body = _problem(gateway.get("/v1/owner/consent"), 401, "UNAUTHENTICATED")
    assert "owner" in body["detail"]
    _problem(gateway.get("/v1/owner/consent", headers={"Authorization": "Bearer "}), 401, "UNAUTHENTICATED")
    _problem(gateway.get("/v1/owner/consent", headers={"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")
    for token in (NEW_TOKEN, "not-a-token", KEY):
        answer = gateway.get("/v1/owner/consent", headers={"Authorization": f"Bearer {token}"})
        body = _problem(answer, 404, "OWNER_LINK_NOT_FOUND")
        assert token not in answer.text
    _problem(
        gateway.post("/v1/owner/consent/revoke", headers={"Authorization": "Bearer x"}), 404, "OWNER_LINK_NOT_FOUND"
    )


def test_the_owner_routes_are_limited_per_client_address(embedding, tenancy):
    gateway = _gateway(embedding, tenancy, owner_rate_limit_per_second=0.01, owner_rate_limit_burst=3)
    codes = [gateway.get("/v1/owner/consent").status_code for _ in range(2)]  # without a token: counted too
    codes += [gateway.get("/v1/owner/consent", headers=OWNER).status_code for _ in range(3)]
    assert codes == [401, 401, 200, 429, 429]
    limited = gateway.get("/v1/owner/consent", headers=OWNER)
    _problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1
    # The API keys' limiter is another one: the tenant's routes still answer.
    assert gateway.post("/v1/voices/v-1/consent/owner-link", headers=AUTH).status_code == 201


def test_the_owner_routes_are_limited_per_token_whatever_the_address(embedding, tenancy):
    app = _gateway(embedding, tenancy, owner_rate_limit_per_second=0.01, owner_rate_limit_burst=2).app
    clients = [TestClient(app, raise_server_exceptions=False, client=(f"198.51.100.{n}", 50000)) for n in range(4)]
    codes = [client.get("/v1/owner/consent", headers=OWNER).status_code for client in clients]
    assert codes == [200, 200, 429, 429]
    other = {"Authorization": f"Bearer {NEW_TOKEN}"}
    assert clients[3].get("/v1/owner/consent", headers=other).status_code == 404  # its own bucket


def test_the_owner_token_is_never_logged(gateway, capsys):
    gateway.get("/v1/owner/consent", headers=OWNER)
    gateway.post("/v1/owner/consent/revoke", headers=OWNER)
    gateway.get("/v1/owner/consent", headers={"Authorization": f"Bearer {NEW_TOKEN}"})
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err and NEW_TOKEN not in captured.out + captured.err


def test_the_openapi_document_describes_the_owner_routes(gateway):
    spec = gateway.get("/openapi.json").json()
    view = spec["paths"]["/v1/owner/consent"]["get"]
    revoke = spec["paths"]["/v1/owner/consent/revoke"]["post"]
    link = spec["paths"]["/v1/voices/{voice_id}/consent/owner-link"]["post"]
    for operation in (view, revoke):
        assert operation["tags"] == ["owner"] and operation["summary"]
        assert operation["security"] == [{"ownerToken": []}]
        assert {"200", "401", "404", "429", "503"} <= set(operation["responses"])
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/OwnerViewOut")
    assert link["security"] == [{"apiKey": []}] and "201" in link["responses"]
    assert "ownerToken" in spec["components"]["securitySchemes"]
    consent = spec["components"]["schemas"]["ConsentOut"]["properties"]
    assert {"owner_token", "owner_url"} <= set(consent)
    status = spec["components"]["schemas"]["OwnerViewOut"]["properties"]["status"]
    assert status["enum"] == ["active", "revoked", "expired"]
