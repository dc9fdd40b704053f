"""The hand-made hostile corpus through the gateway into the real embedding and watermark services:
enrollment, verification, spoken consent and watermark detection each answer 4xx problem+json with the
precise reason (or succeed where the file is legitimately audio), and the services still serve after.
"""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime, timedelta

import pytest

from cli import samples
from tests.fuzz.audio.corpus import hostile
from tests.integration.conftest import wait_serving
from tests.integration.enrollment_helpers import wait_indexed
from tests.integration.test_gateway import assert_problem, auth

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

USES = [
    "fraud_impersonation",
    "non_consensual_content",
    "political_manipulation",
    "harassment_defamation",
    "undisclosed_deepfake",
]
# What legitimate but speechless audio (tones) may come to, per route, besides success.
AUDIO_VERDICTS = {"AUDIO_TOO_SHORT", "AUDIO_TOO_NOISY", "AUDIO_CLIPPED", "CONSENT_SPEAKER_MISMATCH"}
# The gateway, embedding and watermark services share this process, models already loaded by the first
# enrollment; the corpus's largest legitimate decode (8 channels, 2 s) needs a few MiB.
SERVICES_RISE_MIB = 256
UPLOAD_CAP = 4 * 1024 * 1024  # above every corpus file (the 8-channel wav is 1.5 MB)


@pytest.fixture
def client(embedding, watermark, gateway_factory):
    return gateway_factory(
        watermark_addr=watermark[0], max_upload_bytes=UPLOAD_CAP, rate_limit_per_second=1000.0, rate_limit_burst=1000
    )


def _ready_voice(client, key: str) -> str:
    speech = samples.espeak(" ".join(samples.PASSAGES[:2]), "en-us+m7")
    created = client.post(
        "/v1/voices",
        data={"name": "Fuzzed", "language": "en"},
        files=[("files", ("speech.wav", samples.wav_bytes(speech), "audio/wav"))],
        headers=auth(key),
    )
    assert created.status_code == 202, created.text
    voice_id = created.json()["id"]
    deadline = time.monotonic() + 240  # the analysis runs behind a queue; minutes on a loaded 2-core box
    while time.monotonic() < deadline:
        voice = client.get(f"/v1/voices/{voice_id}", headers=auth(key)).json()
        if voice["status"] != "processing":
            assert voice["status"] == "ready", voice
            return voice_id
        time.sleep(0.3)
    raise AssertionError("the voice is still processing")


def _expect(response, route: str, case) -> str | None:
    """None when the answer is right for the case, else what is wrong with it."""
    try:
        if case.reason is not None:
            assert_problem(response, 400, case.reason)
        elif response.status_code >= 400:
            assert response.status_code < 500
            assert response.json()["reason"] in AUDIO_VERDICTS
        else:
            assert response.status_code in (200, 202)
    except (AssertionError, KeyError, ValueError):
        return f"{route} {case.name}: {response.status_code} {response.text[:300]}"
    return None


@pytest.fixture
def fuzz_voice(client, new_tenant, embedding):
    """A ready voice of en-us+m7 and its tenant's key; deleted afterwards (and gone from the speaker
    index), so the one shared index of the test run does not refuse other tests' enrollments of it."""
    _, key, _ = new_tenant("enterprise")
    voice_id = _ready_voice(client, key)
    yield key, voice_id
    for voice in client.get("/v1/voices", headers=auth(key)).json()["items"]:
        client.delete(f"/v1/voices/{voice['id']}", headers=auth(key))
    wait_indexed(embedding, voice_id, present=False)


def test_hostile_files_get_a_precise_4xx_and_the_services_keep_serving(client, fuzz_voice, embedding, watermark):
    key, voice_id = fuzz_voice
    challenge = client.post(f"/v1/voices/{voice_id}/consent/challenge", json={"language": "en"}, headers=auth(key))
    assert challenge.status_code == 201, challenge.text
    consent_form = {
        "challenge_id": challenge.json()["challenge_id"],
        "owner_name": "Fuzz",
        "purpose": "testing",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "prohibited_uses_acknowledged": USES,
    }

    wrong, tried = [], 0
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the services run in this process
    for case in hostile():
        upload = (case.filename, case.data, "application/octet-stream")
        answers = {
            "enroll": client.post("/v1/voices", data={"name": "hostile"}, files=[("files", upload)], headers=auth(key)),
            "verify": client.post(f"/v1/voices/{voice_id}/verify", files={"file": upload}, headers=auth(key)),
            "consent": client.post(
                f"/v1/voices/{voice_id}/consent", data=consent_form, files={"file": upload}, headers=auth(key)
            ),
            "detect": client.post("/v1/watermark/detect", files={"file": upload}, headers=auth(key)),
        }
        tried += len(answers)
        wrong += [problem for route, answer in answers.items() if (problem := _expect(answer, route, case))]
    rise_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    print(
        f"\nhostile corpus: {len(hostile())} files x 4 routes = {tried} uploads, {len(wrong)} wrong answers; "
        f"the services' process peak RSS rose {rise_mib:.0f} MiB over them"
    )
    assert not wrong, "\n".join(wrong)
    assert rise_mib < SERVICES_RISE_MIB

    over = ("big.wav", bytes(UPLOAD_CAP + 1), "audio/wav")
    assert_problem(
        client.post("/v1/voices", data={"name": "x"}, files=[("files", over)], headers=auth(key)),
        413,
        "AUDIO_TOO_LARGE",
    )
    assert_problem(client.post("/v1/watermark/detect", files={"file": over}, headers=auth(key)), 413, "AUDIO_TOO_LARGE")

    # Still serving: health, and the real thing still works on both services.
    wait_serving(embedding.address, timeout=5)
    wait_serving(watermark[0], timeout=5)
    probe = samples.wav_bytes(samples.espeak(samples.PASSAGES[3] + " " + samples.PASSAGES[4], "en-us+m7"))
    verified = client.post(
        f"/v1/voices/{voice_id}/verify", files={"file": ("probe.wav", probe, "audio/wav")}, headers=auth(key)
    )
    assert verified.status_code == 200 and verified.json()["same_speaker"], verified.text
    # Detection searches tempo and pitch (~2 s of CPU per second of audio on this loaded machine): 2 s of it.
    short = samples.wav_bytes(samples.espeak(samples.PASSAGES[3], "en-us+m7")[: 2 * samples.RATE])
    detected = client.post("/v1/watermark/detect", files={"file": ("short.wav", short, "audio/wav")}, headers=auth(key))
    assert detected.status_code == 200 and detected.json()["watermarked"] is False, detected.text
