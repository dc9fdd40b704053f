"""Voice enrollment against the real stack: the cross-tenant duplicate-voice index, consent,
deletion, index rebuild from Kafka, and the exact reasons for bad uploads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import grpc
import numpy as np
import pytest

from cli import samples
from kit.grpc.status import error_info
from tests.integration.conftest import bearer
from tests.integration.enrollment_helpers import enroll_ready, speech, upload, wait_indexed, wait_status
from timbre.v1 import common_pb2, embedding_pb2, tenancy_pb2

pytestmark = pytest.mark.integration

READY = embedding_pb2.VOICE_STATUS_READY
REJECTED = embedding_pb2.VOICE_STATUS_REJECTED
ALL_USES = [embedding_pb2.ProhibitedUse.Name(use) for use in (1, 2, 3, 4, 5)]


@pytest.fixture
def tenant_token(issue, new_tenant, embedding, embedding_stub):
    """Fresh tenants; their voices are deleted afterwards so that no test's voices (in the one
    shared speaker index) block another test's enrollments."""
    made = []

    def make(tier: str = "pro") -> tuple[str, str]:
        tenant_id, api_key, _ = new_tenant(tier)
        token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
        made.append(token)
        return tenant_id, token

    yield make
    deleted = []
    for token in made:
        for voice in embedding_stub.ListVoices(
            embedding_pb2.ListVoicesRequest(page=common_pb2.PageRequest(page_size=100)), metadata=bearer(token)
        ).voices:
            embedding_stub.DeleteVoice(
                embedding_pb2.DeleteVoiceRequest(voice_id=voice.voice_id), metadata=bearer(token)
            )
            deleted.append(voice.voice_id)
    for voice_id in deleted:
        wait_indexed(embedding, voice_id, present=False)


def consent_details(authorized: Sequence[str] = ()) -> embedding_pb2.ConsentDetails:
    details = embedding_pb2.ConsentDetails(
        owner_name="Joe Owner",
        purpose="audiobook narration",
        prohibited_uses_acknowledged=ALL_USES,
        authorized_tenant_ids=list(authorized),
    )
    details.expire_time.FromDatetime(datetime.now(UTC) + timedelta(days=365))
    return details


def submit_consent(stub, token, voice_id, challenge_id, audio: bytes, details):
    def requests():
        yield embedding_pb2.SubmitConsentRequest(
            metadata=embedding_pb2.SubmitConsentMetadata(voice_id=voice_id, challenge_id=challenge_id, details=details)
        )
        yield embedding_pb2.SubmitConsentRequest(chunk=embedding_pb2.AudioChunk(data=audio))

    return stub.SubmitConsent(requests(), metadata=bearer(token)).consent


def spoken_consent(stub, token, voice_id, speaker: str, authorized=(), say: str | None = None):
    challenge = stub.CreateConsentChallenge(
        embedding_pb2.CreateConsentChallengeRequest(voice_id=voice_id, language="en"), metadata=bearer(token)
    )
    audio = samples.wav_bytes(samples.speak(speaker, say or challenge.statement))
    return submit_consent(stub, token, voice_id, challenge.challenge_id, audio, consent_details(list(authorized)))


def test_same_speaker_is_blocked_across_tenants_until_the_owner_consents(embedding, embedding_stub, tenant_token):
    a_id, a_token = tenant_token()
    b_id, b_token = tenant_token()
    voice_a = enroll_ready(embedding_stub, a_token, "joe", (0, 1), name="joe at A")
    assert voice_a.status == READY, voice_a.status_detail
    assert voice_a.speech_seconds >= 10
    wait_indexed(embedding, voice_a.voice_id)

    blocked = enroll_ready(embedding_stub, b_token, "joe", (2, 3), name="joe at B")
    assert (blocked.status, blocked.status_reason) == (REJECTED, "VOICE_ALREADY_REGISTERED")
    assert a_id not in blocked.status_detail and voice_a.voice_id not in blocked.status_detail

    consent = spoken_consent(embedding_stub, a_token, voice_a.voice_id, "joe", authorized=[b_id])
    assert consent.phrase_verified and consent.speaker_score >= embedding.consents.verify_threshold
    assert len(consent.evidence_sha256) == 64
    wait_for = lambda: b_id in embedding.index.snapshot()[voice_a.voice_id][2]  # noqa: E731
    _poll(wait_for)

    allowed = enroll_ready(embedding_stub, b_token, "joe", (2, 3), name="joe at B, with consent")
    assert allowed.status == READY, allowed.status_detail
    # A third tenant is still blocked: the consent named B only.
    _, c_token = tenant_token()
    assert enroll_ready(embedding_stub, c_token, "joe", (4, 5)).status_reason == "VOICE_ALREADY_REGISTERED"


def test_different_speakers_are_accepted_and_same_tenant_duplicates_reported(embedding, embedding_stub, tenant_token):
    _, a_token = tenant_token()
    _, b_token = tenant_token()
    male = enroll_ready(embedding_stub, a_token, "en-us+m3", (0, 1))
    assert male.status == READY, male.status_detail
    wait_indexed(embedding, male.voice_id)
    female = enroll_ready(embedding_stub, b_token, "en-us+f2", (0, 1))
    assert female.status == READY, female.status_detail
    again = enroll_ready(embedding_stub, a_token, "en-us+m3", (2, 3))
    assert again.status == READY and male.voice_id in again.status_detail


def test_after_the_owner_deletes_the_voice_another_tenant_may_enroll_it(embedding, embedding_stub, tenant_token):
    a_id, a_token = tenant_token()
    _, b_token = tenant_token()
    voice = enroll_ready(embedding_stub, a_token, "en-us+m7", (0, 1))
    assert voice.status == READY, voice.status_detail
    wait_indexed(embedding, voice.voice_id)
    assert enroll_ready(embedding_stub, b_token, "en-us+m7", (2, 3)).status_reason == "VOICE_ALREADY_REGISTERED"
    assert embedding.voices.store.list(f"samples/{a_id}/{voice.voice_id}/")

    embedding_stub.DeleteVoice(embedding_pb2.DeleteVoiceRequest(voice_id=voice.voice_id), metadata=bearer(a_token))
    with pytest.raises(grpc.RpcError) as caught:
        embedding_stub.GetVoice(embedding_pb2.GetVoiceRequest(voice_id=voice.voice_id), metadata=bearer(a_token))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    wait_indexed(embedding, voice.voice_id, present=False)
    assert enroll_ready(embedding_stub, b_token, "en-us+m7", (2, 3)).status == READY
    _poll(lambda: not embedding.voices.store.list(f"samples/{a_id}/{voice.voice_id}/"))


def test_a_restarted_replica_rebuilds_an_identical_index_from_kafka(embedding, embedding_stub, tenant_token, tenancy):
    from services.embedding.config import EmbeddingSettings
    from services.embedding.main import EmbeddingApp

    _, token = tenant_token()
    voice = enroll_ready(embedding_stub, token, "en-us+f4", (0, 1))
    assert voice.status == READY, voice.status_detail
    wait_indexed(embedding, voice.voice_id)
    replica = EmbeddingApp(
        EmbeddingSettings(grpc_port=0, metrics_port=0, tenancy_addr=tenancy, run_workers=False), quotas=embedding.quotas
    )
    process = replica.process().start()
    try:
        assert replica.index_sync.caught_up.wait(60)
        assert len(replica.index) > 0
        assert replica.index.snapshot() == embedding.index.snapshot()
    finally:
        process.stop()


def test_bad_uploads_get_their_exact_reasons_and_store_nothing(
    embedding, embedding_stub, tenant_token, tenancy_stub, service_token
):
    tenant_id, token = tenant_token()
    joe = samples.speak("joe", samples.PASSAGES[0] + " " + samples.PASSAGES[1])

    def sync_error(files) -> str:
        with pytest.raises(grpc.RpcError) as caught:
            upload(embedding_stub, token, files)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return reason_of(caught.value)

    assert sync_error([("x.wav", b"RIFF....WAVEfmt garbage" * 50)]) == "AUDIO_UNDECODABLE"
    assert sync_error([("x.mp3", np.random.default_rng(0).bytes(20000))]) == "AUDIO_UNDECODABLE"
    narrow = samples.wav_bytes(samples.espeak(samples.PASSAGES[0]), fmt="wav")
    from kit.audio.codec import decode, encode, resample

    eight_k = encode(resample(decode(narrow).samples, 16000, 8000), 8000, "wav")
    assert sync_error([("phone.wav", eight_k)]) == "SAMPLE_RATE_TOO_LOW"
    assert sync_error([]) == "AUDIO_TOO_SHORT"

    rng = np.random.default_rng(1)
    cases = {
        "AUDIO_TOO_SHORT": [("short.flac", samples.wav_bytes(joe[: 16000 * 5], fmt="flac"))],
        "AUDIO_TOO_NOISY": [
            (
                "noisy.wav",
                samples.wav_bytes(joe + rng.normal(0, float(np.sqrt(np.mean(joe**2))), len(joe)).astype(np.float32)),
            )
        ],
        "AUDIO_CLIPPED": [("loud.wav", samples.wav_bytes(np.clip(joe * 25, -1, 1)))],
        "MIXED_SPEAKERS": [
            ("joe.mp3", samples.wav_bytes(joe, fmt="mp3")),
            ("other.ogg", speech("en-us+f3", 2, 3, fmt="ogg")),
        ],
    }
    for reason, files in cases.items():
        voice = upload(embedding_stub, token, files)
        done = wait_status(embedding_stub, token, voice.voice_id)
        assert (done.status, done.status_reason) == (REJECTED, reason), done.status_detail
        assert done.status_detail
        _poll(lambda voice=voice: not embedding.voices.store.list(f"samples/{tenant_id}/{voice.voice_id}/"))
    # Rejections gave their voice-profile reservations back.
    usage = tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=bearer(service_token))
    _poll(
        lambda: (
            tenancy_stub.GetUsage(
                tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=bearer(service_token)
            ).voice_profiles_used
            == 0
        )
    )
    assert usage.tenant_id == tenant_id


def test_consent_from_another_speaker_or_with_the_wrong_phrase_is_refused(embedding, embedding_stub, tenant_token):
    _, token = tenant_token()
    voice = enroll_ready(embedding_stub, token, "joe", (4, 5))
    assert voice.status == READY, voice.status_detail
    with pytest.raises(grpc.RpcError) as caught:
        spoken_consent(embedding_stub, token, voice.voice_id, "en-us+f2")
    assert reason_of(caught.value) == "CONSENT_SPEAKER_MISMATCH"
    with pytest.raises(grpc.RpcError) as caught:
        spoken_consent(embedding_stub, token, voice.voice_id, "joe", say=samples.PASSAGES[3])
    assert reason_of(caught.value) == "CONSENT_PHRASE_MISMATCH"

    consent = spoken_consent(embedding_stub, token, voice.voice_id, "joe")
    assert consent.kind == embedding_pb2.CONSENT_KIND_SPOKEN
    revoked = embedding_stub.RevokeConsent(
        embedding_pb2.RevokeConsentRequest(voice_id=voice.voice_id), metadata=bearer(token)
    ).consent
    assert revoked.revoke_time.seconds > 0
    disabled = embedding_stub.GetVoice(
        embedding_pb2.GetVoiceRequest(voice_id=voice.voice_id), metadata=bearer(token)
    ).voice
    assert disabled.status == embedding_pb2.VOICE_STATUS_DISABLED and not disabled.has_active_consent
    _poll(lambda: not embedding.voices.store.list(f"samples/{disabled.tenant_id}/{voice.voice_id}/"))


def test_other_tenants_voice_ids_are_not_found(embedding_stub, tenant_token):
    _, a_token = tenant_token()
    _, b_token = tenant_token()
    voice = upload(embedding_stub, a_token, [("a.wav", speech("en-us+m1", 0))])
    for call in (
        lambda: embedding_stub.GetVoice(
            embedding_pb2.GetVoiceRequest(voice_id=voice.voice_id), metadata=bearer(b_token)
        ),
        lambda: embedding_stub.DeleteVoice(
            embedding_pb2.DeleteVoiceRequest(voice_id=voice.voice_id), metadata=bearer(b_token)
        ),
        lambda: embedding_stub.CreateConsentChallenge(
            embedding_pb2.CreateConsentChallengeRequest(voice_id=voice.voice_id), metadata=bearer(b_token)
        ),
        lambda: embedding_stub.GetVoice(
            embedding_pb2.GetVoiceRequest(voice_id=str(uuid.uuid4())), metadata=bearer(b_token)
        ),
        lambda: embedding_stub.GetVoice(embedding_pb2.GetVoiceRequest(voice_id="not-an-id"), metadata=bearer(b_token)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def reason_of(error: grpc.RpcError) -> str:
    info = error_info(error)
    assert info is not None, f"no error details: {error}"
    return info.reason


def _poll(condition, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")
