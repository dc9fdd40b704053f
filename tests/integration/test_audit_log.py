"""The audit log over the real embedding service, PostgreSQL and the REST gateway: actions recorded with
the key, the client's address and the request id; read by the tenant alone; never editable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp

from cli import samples
from tests.integration.conftest import bearer
from tests.integration.test_gateway import auth
from timbre.v1 import embedding_pb2

pytestmark = pytest.mark.integration

CLIENT_ADDRESS = "203.0.113.9"  # TEST-NET-3: what the gateway sees as its HTTP client
VOICE = "en-us+m6"  # an identity no other test enrolls (the speaker index refuses duplicates)


@pytest.fixture
def client(embedding, gateway_factory):
    made = gateway_factory(max_upload_bytes=3 * 1024 * 1024)
    client = TestClient(made.app, raise_server_exceptions=False, client=(CLIENT_ADDRESS, 40000))
    yield client
    client.close()


def wait_ready(client, key: str, voice_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        voice = client.get(f"/v1/voices/{voice_id}", headers=auth(key)).json()
        if voice["status"] != "processing":
            return voice
        time.sleep(0.3)
    raise AssertionError("still processing")


def written_consent(stub, operator_token: str, voice_id: str) -> None:
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    stub.GrantWrittenConsent(
        embedding_pb2.GrantWrittenConsentRequest(
            voice_id=voice_id,
            document_sha256="cd" * 32,
            details=embedding_pb2.ConsentDetails(
                owner_name="Owner",
                purpose="audit test",
                expire_time=expire,
                prohibited_uses_acknowledged=[1, 2, 3, 4, 5],
            ),
        ),
        metadata=bearer(operator_token),
    )


def test_enroll_consent_verify_revoke_are_audited_and_only_their_tenant_reads_them(
    client, new_tenant, embedding_stub, operator_token
):
    _, key, key_id = new_tenant("pro")
    _, other_key, _ = new_tenant("pro")
    speech = samples.espeak(" ".join(samples.PASSAGES[:2]), VOICE)
    created = client.post(
        "/v1/voices",
        data={"name": "Audited", "language": "en"},
        files=[("files", ("a.wav", samples.wav_bytes(speech), "audio/wav"))],
        headers=auth(key),
    )
    assert created.status_code == 202, created.text
    voice_id = created.json()["id"]
    enroll_request_id = created.headers["X-Request-ID"]
    assert wait_ready(client, key, voice_id)["status"] == "ready"
    challenge = client.post(f"/v1/voices/{voice_id}/consent/challenge", json={"language": "en"}, headers=auth(key))
    assert challenge.status_code == 201, challenge.text
    written_consent(embedding_stub, operator_token, voice_id)
    probe = samples.wav_bytes(samples.espeak(samples.PASSAGES[3], VOICE))
    verified = client.post(
        f"/v1/voices/{voice_id}/verify", headers=auth(key), files={"file": ("p.wav", probe, "audio/wav")}
    )
    assert verified.status_code == 200, verified.text
    revoked = client.delete(f"/v1/voices/{voice_id}/consent", headers=auth(key))
    assert revoked.status_code == 200, revoked.text

    log = client.get("/v1/audit", params={"voice_id": voice_id}, headers=auth(key))
    assert log.status_code == 200, log.text
    items = list(reversed(log.json()["items"]))  # oldest first
    assert [e["action"] for e in items] == [
        "voice.enrollment_requested",
        "voice.ready",
        "consent.challenge_created",
        "consent.granted",
        "speaker.verified",
        "consent.revoked",
    ]
    by_action = {e["action"]: e for e in items}
    for action in ("voice.enrollment_requested", "consent.challenge_created", "speaker.verified", "consent.revoked"):
        actor = by_action[action]["actor"]
        assert (actor["kind"], actor["key_id"], actor["address"], actor["address_source"]) == (
            "tenant",
            key_id,
            CLIENT_ADDRESS,
            "forwarded",
        ), action
    assert by_action["voice.enrollment_requested"]["request_id"] == enroll_request_id
    assert by_action["voice.ready"]["actor"]["kind"] == "system"
    assert by_action["consent.granted"]["actor"]["kind"] == "operator"
    assert by_action["consent.granted"]["detail"] == {"kind": "written"}
    assert (
        by_action["consent.granted"]["consent_id"] == by_action["consent.revoked"]["consent_id"] == revoked.json()["id"]
    )

    # Another tenant: nothing of A's, whether asked for everything or for A's voice by id.
    assert client.get("/v1/audit", headers=auth(other_key)).json()["items"] == []
    assert client.get("/v1/audit", params={"voice_id": voice_id}, headers=auth(other_key)).json()["items"] == []
    # Paging: one at a time, newest first, every entry once.
    seen, token = [], ""
    while True:
        page = client.get(
            "/v1/audit", params={"voice_id": voice_id, "page_size": 1, "page_token": token}, headers=auth(key)
        ).json()
        seen += [e["event_id"] for e in page["items"]]
        token = page.get("next_page_token") or ""
        if not token:
            break
    assert seen == [e["event_id"] for e in reversed(items)]


def test_bad_audit_queries_are_problems(client, new_tenant):
    _, key, _ = new_tenant("free")
    bad = client.get("/v1/audit", params={"voice_id": "nope"}, headers=auth(key))
    assert bad.status_code == 400 and bad.json()["reason"] == "INVALID_ARGUMENT"
    assert client.get("/v1/audit").status_code == 401


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE embedding.audit_log SET action = 'voice.deleted'",
        "DELETE FROM embedding.audit_log",
        "TRUNCATE embedding.audit_log",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_entries(engine, statement):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO embedding.audit_log (tenant_id, action, actor_kind) "
                "VALUES ('00000000-0000-4000-8000-00000000a0d1', 'voice.ready', 'system')"
            )
        )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM embedding.audit_log")).scalar() > 0
