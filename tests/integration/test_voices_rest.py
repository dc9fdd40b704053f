"""Voices and consent through the REST gateway (multipart uploads, problem+json errors)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from cli import samples
from tests.integration.test_gateway import assert_problem, auth

pytestmark = pytest.mark.integration

USES = [
    "fraud_impersonation",
    "non_consensual_content",
    "political_manipulation",
    "harassment_defamation",
    "undisclosed_deepfake",
]


@pytest.fixture
def client(embedding, gateway_factory):
    return gateway_factory(max_upload_bytes=3 * 1024 * 1024)


def wait_ready(client, key: str, voice_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        voice = client.get(f"/v1/voices/{voice_id}", headers=auth(key)).json()
        if voice["status"] != "processing":
            return voice
        time.sleep(0.3)
    raise AssertionError("still processing")


def test_enroll_consent_and_delete_over_rest(client, new_tenant):
    _, key, _ = new_tenant("pro")
    _, other, _ = new_tenant("pro")
    speech = samples.espeak(" ".join(samples.PASSAGES[:2]), "en-us+f5")  # an identity no other test uses
    half = len(speech) // 2
    files = [
        ("files", ("part1.mp3", samples.wav_bytes(speech[:half], fmt="mp3"), "audio/mpeg")),
        ("files", ("part2.m4a", samples.wav_bytes(speech[half:], fmt="m4a"), "audio/mp4")),
    ]
    created = client.post("/v1/voices", data={"name": "Narrator", "language": "en"}, files=files, headers=auth(key))
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "processing"
    voice_id = created.json()["id"]
    voice = wait_ready(client, key, voice_id)
    assert voice["status"] == "ready" and voice["speech_seconds"] >= 10, voice
    assert [v["id"] for v in client.get("/v1/voices", headers=auth(key)).json()["items"]] == [voice_id]
    assert_problem(client.get(f"/v1/voices/{voice_id}", headers=auth(other)), 404, "NOT_FOUND")
    assert_problem(client.delete(f"/v1/voices/{voice_id}", headers=auth(other)), 404)

    verify = client.post(
        f"/v1/voices/{voice_id}/verify",
        headers=auth(key),
        files={
            "file": (
                "probe.wav",
                samples.wav_bytes(samples.espeak(samples.PASSAGES[3] + " " + samples.PASSAGES[4], "en-us+f5")),
                "audio/wav",
            )
        },
    )
    assert verify.status_code == 200 and verify.json()["same_speaker"], verify.text

    challenge = client.post(f"/v1/voices/{voice_id}/consent/challenge", json={"language": "en"}, headers=auth(key))
    assert challenge.status_code == 201
    body = challenge.json()
    consent_audio = samples.wav_bytes(samples.espeak(body["statement"], "en-us+f5"))
    form = {
        "challenge_id": body["challenge_id"],
        "owner_name": "Fiona",
        "purpose": "podcast",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "prohibited_uses_acknowledged": USES,
    }
    missing = client.post(
        f"/v1/voices/{voice_id}/consent",
        headers=auth(key),
        data={**form, "prohibited_uses_acknowledged": USES[:2]},
        files={"file": ("c.wav", consent_audio, "audio/wav")},
    )
    assert_problem(missing, 400, "CONSENT_REQUIRED")
    granted = client.post(
        f"/v1/voices/{voice_id}/consent",
        headers=auth(key),
        data=form,
        files={"file": ("c.wav", consent_audio, "audio/wav")},
    )
    if granted.status_code == 403 and granted.json()["reason"] == "CONSENT_PHRASE_MISMATCH":
        # pocketsphinx hears espeak's random challenge phrases at ≥ 75% in 45 of 45 tries alone, but at
        # the threshold's edge (min 0.75): one REST run heard 50%. Its accuracy is test_enrollment's
        # subject; this test is the REST flow, so a second challenge is allowed.
        retry = client.post(f"/v1/voices/{voice_id}/consent/challenge", json={"language": "en"}, headers=auth(key))
        form["challenge_id"] = retry.json()["challenge_id"]
        granted = client.post(
            f"/v1/voices/{voice_id}/consent",
            headers=auth(key),
            data=form,
            files={"file": ("c.wav", samples.wav_bytes(samples.espeak(retry.json()["statement"], "en-us+f5")))},
        )
    assert granted.status_code == 201, granted.text
    assert granted.json()["kind"] == "spoken" and len(granted.json()["evidence_sha256"]) == 64
    assert client.get(f"/v1/voices/{voice_id}", headers=auth(key)).json()["has_active_consent"]
    revoked = client.delete(f"/v1/voices/{voice_id}/consent", headers=auth(key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get(f"/v1/voices/{voice_id}", headers=auth(key)).json()["status"] == "disabled"

    assert client.delete(f"/v1/voices/{voice_id}", headers=auth(key)).status_code == 204
    assert_problem(client.get(f"/v1/voices/{voice_id}", headers=auth(key)), 404)


def test_bad_uploads_over_rest(client, new_tenant):
    _, key, _ = new_tenant("pro")
    form = {"name": "x"}
    garbage = client.post(
        "/v1/voices", data=form, headers=auth(key), files=[("files", ("a.wav", b"not audio at all" * 100, "audio/wav"))]
    )
    assert_problem(garbage, 400, "AUDIO_UNDECODABLE")
    from kit.audio.codec import encode

    phone = encode(samples.espeak(samples.PASSAGES[0])[::2], 8000, "wav")
    assert_problem(
        client.post("/v1/voices", data=form, headers=auth(key), files=[("files", ("p.wav", phone, "audio/wav"))]),
        400,
        "SAMPLE_RATE_TOO_LOW",
    )
    huge = client.post(
        "/v1/voices",
        data=form,
        headers=auth(key),
        files=[("files", ("big.wav", b"\0" * (3 * 1024 * 1024 + 1), "audio/wav"))],
    )
    assert_problem(huge, 413, "AUDIO_TOO_LARGE")
    assert_problem(
        client.post("/v1/voices", data={}, headers=auth(key), files=[("files", ("a.wav", phone, "audio/wav"))]), 422
    )
    assert client.get("/v1/voices", headers=auth(key)).json()["items"] == []
