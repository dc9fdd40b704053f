"""The voice owner's portal on the running stack (`timbre stack up`, the gateway on 127.0.0.1:8080):
consent recorded over REST hands out the owner link; the owner reads the consent, the tenant's name and
this month's generations (fed by billing's analytics from the usage events); a new link retires the old
one; another voice's link sees only its own voice; the owner's revocation stops the voice like the
tenant's does; and the owner routes answer 429 past their burst (docs/owner-portal.md)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cli import samples
from kit.config import KitSettings
from tests.e2e.test_stack import REPO, run
from tests.security.run_logs import read_env_file
from timbre.v1 import embedding_pb2, embedding_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

GATEWAY = "http://127.0.0.1:8080"
SPEAKER = "en-us+f5"  # the owner: an espeak-ng identity that reads its own consent statement
OTHER_SPEAKER = "en-us+m7"
USES = [
    "fraud_impersonation",
    "non_consensual_content",
    "political_manipulation",
    "harassment_defamation",
    "undisclosed_deepfake",
]


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(every)


def new_tenant(name: str) -> tuple[str, dict[str, str]]:
    created = json.loads(run("admin", "tenant", "create", "--name", name, "--tier", "pro"))
    return created["tenant_id"], {"Authorization": f"Bearer {created['api_key']}"}


def owner(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def enroll(http: httpx.Client, auth: dict[str, str], speaker: str, name: str) -> str:
    audio = samples.wav_bytes(samples.espeak(" ".join(samples.PASSAGES[:2]), speaker))
    created = http.post(
        "/v1/voices", data={"name": name, "language": "en"}, files=[("files", ("a.wav", audio))], headers=auth
    )
    assert created.status_code == 202, created.text
    voice_id = created.json()["id"]
    analysed = wait_for(
        lambda: (
            (v := http.get(f"/v1/voices/{voice_id}", headers=auth).json())["status"] != "processing"
            or v["progress"] >= 0.5
        ),
        120,
        "voice analysed",
    )
    assert analysed, voice_id
    voice = http.get(f"/v1/voices/{voice_id}", headers=auth).json()
    assert voice["status"] != "rejected", voice
    return voice_id


def spoken_consent(http: httpx.Client, auth: dict[str, str], voice_id: str) -> httpx.Response:
    """The owner reads the challenge (a second challenge if the recogniser missed the phrase at its edge,
    as tests/integration/test_voices_rest.py allows)."""
    for _ in range(3):
        challenge = http.post(f"/v1/voices/{voice_id}/consent/challenge", json={"language": "en"}, headers=auth)
        assert challenge.status_code == 201, challenge.text
        body = challenge.json()
        granted = http.post(
            f"/v1/voices/{voice_id}/consent",
            headers=auth,
            data={
                "challenge_id": body["challenge_id"],
                "owner_name": "Fiona Owner",
                "purpose": "the weekly podcast",
                "expires_at": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
                "prohibited_uses_acknowledged": USES,
            },
            files={"file": ("c.wav", samples.wav_bytes(samples.espeak(body["statement"], SPEAKER)), "audio/wav")},
        )
        if not (granted.status_code == 403 and granted.json()["reason"] == "CONSENT_PHRASE_MISMATCH"):
            return granted
    return granted


def written_consent(voice_id: str) -> embedding_pb2.GrantWrittenConsentResponse:
    """The operator records a signed form (gRPC GrantWrittenConsent): its answer carries the owner link too."""
    from cli.client import operator_channel

    secret = read_env_file(REPO / ".run" / "secrets.env")["TIMBRE_OPERATOR_SECRET"]
    settings = KitSettings(operator_secret=secret, tenancy_addr="127.0.0.1:50051")
    details = embedding_pb2.ConsentDetails(
        owner_name="Oscar Other",
        purpose="an audiobook",
        prohibited_uses_acknowledged=[v.number for v in embedding_pb2.ProhibitedUse.DESCRIPTOR.values if v.number],
    )
    details.expire_time.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    with operator_channel(settings, "127.0.0.1:50052") as channel:
        return embedding_pb2_grpc.EmbeddingServiceStub(channel).GrantWrittenConsent(
            embedding_pb2.GrantWrittenConsentRequest(
                voice_id=voice_id, document_sha256=hashlib.sha256(b"signed form").hexdigest(), details=details
            )
        )


def speak(http: httpx.Client, auth: dict[str, str], voice_id: str) -> httpx.Response:
    return http.post(
        f"/v1/voices/{voice_id}/speech",
        json={"text": "Hello from the owner portal test.", "language": "en", "format": "mp3"},
        headers=auth,
    )


def test_the_owner_reads_rotates_and_revokes_through_the_portal():
    run("stack", "up")
    suffix = uuid.uuid4().hex[:6]
    tenant_name = f"Owner portal e2e {suffix}"
    _, auth = new_tenant(tenant_name)
    other_name = f"Owner portal other {suffix}"
    _, other_auth = new_tenant(other_name)
    voices: list[tuple[str, dict[str, str]]] = []
    with httpx.Client(base_url=GATEWAY, timeout=120) as http:
        try:
            voice_id = enroll(http, auth, SPEAKER, "Fiona")
            voices.append((voice_id, auth))
            other_voice = enroll(http, other_auth, OTHER_SPEAKER, "Oscar")
            voices.append((other_voice, other_auth))

            # The consent's answer carries the link, once.
            granted = spoken_consent(http, auth, voice_id)
            assert granted.status_code == 201, granted.text
            first = granted.json()["owner_token"]
            assert first.startswith("tvo_") and granted.json()["owner_url"].endswith(f"/console/owner/{first}")
            again = http.get(f"/v1/voices/{voice_id}/consent", headers=auth).json()
            assert (again["owner_token"], again["owner_url"]) == (None, None)

            view = http.get("/v1/owner/consent", headers=owner(first))
            assert view.status_code == 200, view.text
            body = view.json()
            assert (body["voice_id"], body["voice_name"], body["owner_name"]) == (voice_id, "Fiona", "Fiona Owner")
            assert (body["tenant_name"], body["purpose"], body["status"]) == (
                tenant_name,
                "the weekly podcast",
                "active",
            )
            this_month = datetime.now(UTC).strftime("%Y-%m")
            assert len(body["generations"]) == 12 and body["generations"][-1]["month"] == this_month

            # One generation with the voice, once synthesis has built it and heard of the consent.
            wait_for(
                lambda: http.get(f"/v1/voices/{voice_id}", headers=auth).json()["status"] == "ready",
                600,
                "voice built",
                every=2,
            )
            spoken = wait_for(
                lambda: (r := speak(http, auth, voice_id)).status_code != 409 and r,
                120,
                "consent reaches synthesis",
            )
            assert spoken.status_code == 200, spoken.text
            wait_for(
                lambda: (
                    http.get("/v1/usage", params={"group_by": "month", "voice_id": voice_id}, headers=auth).json()[
                        "rows"
                    ][-1]["requests"]
                    >= 1
                ),
                120,
                "the usage event reaches analytics",
            )
            generations = http.get("/v1/owner/consent", headers=owner(first)).json()["generations"]
            assert generations[-1]["month"] == this_month and generations[-1]["requests"] >= 1
            assert generations[-1]["characters"] >= len("Hello from the owner portal test.")
            assert sum(g["requests"] for g in generations[:-1]) == 0

            # Another tenant cannot issue this voice's link; a new link retires the old token at once.
            assert http.post(f"/v1/voices/{voice_id}/consent/owner-link", headers=other_auth).status_code == 404
            renewed = http.post(f"/v1/voices/{voice_id}/consent/owner-link", headers=auth)
            assert renewed.status_code == 201, renewed.text
            second = renewed.json()["owner_token"]
            assert second != first
            stale = http.get("/v1/owner/consent", headers=owner(first))
            assert stale.status_code == 404 and stale.json()["reason"] == "OWNER_LINK_NOT_FOUND"
            assert http.get("/v1/owner/consent", headers=owner(second)).json()["voice_id"] == voice_id

            # Another tenant's voice, written consent: its link opens that consent only.
            written = written_consent(other_voice)
            assert written.owner_token.startswith("tvo_")
            theirs = http.get("/v1/owner/consent", headers=owner(written.owner_token)).json()
            assert (theirs["voice_id"], theirs["tenant_name"], theirs["owner_name"]) == (
                other_voice,
                other_name,
                "Oscar Other",
            )

            # The owner revokes: the voice is disabled at once and synthesis refuses it as after the
            # tenant's revocation (409 CONSENT_REQUIRED, tests/integration/test_synthesis.py).
            revoked = http.post("/v1/owner/consent/revoke", headers=owner(second))
            assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
            assert http.get(f"/v1/voices/{voice_id}", headers=auth).json()["status"] == "disabled"
            refused = wait_for(
                lambda: (r := speak(http, auth, voice_id)).status_code == 409 and r, 60, "revocation reaches synthesis"
            )
            assert refused.json()["reason"] == "CONSENT_REQUIRED"
            twice = http.post("/v1/owner/consent/revoke", headers=owner(second))
            assert twice.status_code == 200 and twice.json()["revoked_at"] == revoked.json()["revoked_at"]
            audit = http.get("/v1/audit", params={"voice_id": voice_id}, headers=auth).json()["items"]
            assert [e["actor"]["kind"] for e in audit if e["action"] == "consent.revoked"] == ["owner"]
            assert http.get("/v1/owner/consent", headers=owner(written.owner_token)).json()["status"] == "active"

            # Past the burst (10 per client address), the owner routes answer 429 with Retry-After.
            answers = [
                http.get("/v1/owner/consent", headers=owner("tvo_" + secrets.token_urlsafe(32))) for _ in range(15)
            ]
            assert {a.status_code for a in answers} <= {404, 429}
            limited = [a for a in answers if a.status_code == 429]
            assert limited and int(limited[0].headers["retry-after"]) >= 1
            assert limited[0].json()["reason"] == "RATE_LIMITED"
        finally:
            for voice, headers in voices:  # leaves no voice in the stack's speaker index for a rerun
                http.delete(f"/v1/voices/{voice}", headers=headers)
