"""Embedding's use cases on fakes: enrollment (and its compensation), consent, the build's verdicts."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import numpy as np
import pytest

from kit.audio import codec
from kit.crypto import KekRing, VoiceVault
from kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kit.paging import PageRequest
from services.embedding.domain.audio_checks import AudioPolicy
from services.embedding.domain.voice import Voice
from services.embedding.events.handlers import enrollment_request
from services.embedding.index.speaker_index import SpeakerIndex
from services.embedding.service_layer import analysis
from services.embedding.service_layer.analysis import Analyzer
from services.embedding.service_layer.consent import Consents, ConsentTerms
from services.embedding.service_layer.voices import Upload, Voices
from tests.fakes.embedding import FakeUnitOfWork
from tests.fakes.quotas import FakeQuotas
from tests.fakes.speaker import (
    DIM,
    FakeRecogniser,
    FakeWatermarkDetector,
    LoudnessActivity,
    PitchEncoder,
    tone_bursts,
)
from tests.fakes.storage import FakeObjectStore
from timbre.v1 import events_pb2

TENANT, OTHER = "7d0c7a36-1d1c-4e43-9c52-2f6f1d6b0a01", "7d0c7a36-1d1c-4e43-9c52-2f6f1d6b0a02"
POLICY = AudioPolicy(min_speech_seconds=4.0)


class World:
    def __init__(self, built_by_synthesis: bool = False) -> None:
        self.uow = FakeUnitOfWork()
        self.clock = self.uow.clock
        self.store = FakeObjectStore()
        self.quotas = FakeQuotas()
        self.index = SpeakerIndex(DIM)
        self.analyzer = Analyzer(PitchEncoder(), LoudnessActivity(), POLICY)
        self.voices = Voices(
            self.uow,
            self.store,
            self.analyzer,
            self.index,
            self.quotas,
            threshold=0.8,
            ready_on_embedded=not built_by_synthesis,
            clock=self.clock,
            vault=VoiceVault(self.store, KekRing("k1", {"k1": bytes(range(32))})),
        )
        self.marker = FakeWatermarkDetector()
        self.recogniser = FakeRecogniser()
        self.consents = Consents(
            self.uow,
            self.store,
            self.analyzer,
            self.voices,
            verify_threshold=0.7,
            marker=self.marker,
            recogniser=self.recogniser,
            clock=self.clock,
        )

    def upload(self, tenant: str, *pitches: float, rate: int = 16000, seconds: float = 6.0) -> Voice:
        files = [
            Upload(f"take{i}.wav", codec.encode(tone_bursts(p, seconds, rate, seed=i), rate, "wav"))
            for i, p in enumerate(pitches)
        ]
        return self.voices.enroll(tenant, "narrator", files, language="en")

    def analyse(self, voice: Voice) -> Voice:
        """What the consumer does with the voice's VoiceEnrollmentRequested."""
        sent = [e for e in self.uow.events(events_pb2.VoiceEnrollmentRequested) if e.voice_id == voice.id][-1]
        request = enrollment_request(sent)
        outcome = self.voices.analyse_enrollment(request)
        with self.uow.begin() as tx:
            self.voices.apply_enrollment(tx, request, outcome)
        return self.voices.get(voice.tenant_id, voice.id)

    def enrolled(self, tenant: str, pitch: float) -> Voice:
        voice = self.analyse(self.upload(tenant, pitch))
        assert voice.status == "ready", voice.status_detail
        # The speaker-index topic's consumer would do this on every replica.
        assert voice.embedding is not None
        self.index.upsert(voice.id, tenant, voice.embedding)
        return voice


def terms(world: World, authorized: tuple[str, ...] = ()) -> ConsentTerms:
    return ConsentTerms(
        "Joe Owner", "audiobooks", world.clock.now() + timedelta(days=365), frozenset({1, 2, 3, 4, 5}), authorized
    )


# --- enrollment ------------------------------------------------------------------------------------


def test_an_accepted_enrollment_is_ready_with_its_embedding_and_commits_its_voice_profile():
    world = World()
    voice = world.upload(TENANT, 200)
    assert voice.status == "processing" and voice.reservation_id in world.quotas.reserved

    done = world.analyse(voice)

    assert (done.status, done.status_reason) == ("ready", "")
    assert done.speech_seconds >= POLICY.min_speech_seconds
    assert done.embedding is not None and int(np.argmax(done.embedding)) == 2  # 200 Hz → bucket 2
    embedded = world.uow.events(events_pb2.VoiceEmbedded)[-1]
    indexed = world.uow.events(events_pb2.VoiceEmbedding)[-1]
    assert (embedded.voice_id, indexed.voice_id, list(indexed.authorized_tenant_ids)) == (voice.id, voice.id, [])
    with world.uow.begin() as tx:
        world.voices.voice_embedded(tx, voice.id)
    assert world.quotas.committed == [voice.reservation_id]


def test_each_upload_is_decoded_once_and_stored_as_one_16k_mono_lossless_copy_that_analysis_and_build_read(
    monkeypatch,
):
    world = World()
    upload = codec.encode(tone_bursts(200, rate=48000), 48000, "wav")
    decoded: list[bytes] = []

    def counting_decode(data: bytes, *args, **kwargs):
        decoded.append(data)
        return codec.decode(data, *args, **kwargs)

    monkeypatch.setattr(analysis, "decode", counting_decode)
    voice = world.voices.enroll(TENANT, "narrator", [Upload("studio.wav", upload)], language="en")
    assert world.analyse(voice).status == "ready"

    assert decoded.count(upload) == 1  # the upload itself: once, at upload
    keys = world.store.list(f"samples/{TENANT}/{voice.id}/")
    assert len(keys) == 1
    stored = codec.decode(world.voices.vault.get(world.uow.state.data_keys[voice.id], keys[0]), target_rate=None)
    assert (stored.codec, stored.native_rate, stored.channels) == ("flac", 16000, 1)
    assert world.store.stat(keys[0]).content_type == "audio/flac"
    # The build (VoiceEmbedded) and the analysis (VoiceEnrollmentRequested) point at that copy.
    assert list(world.uow.events(events_pb2.VoiceEmbedded)[-1].sample_keys) == keys
    assert list(world.uow.events(events_pb2.VoiceEnrollmentRequested)[-1].sample_keys) == keys
    # The sample's record still describes the upload as sent.
    sample = world.uow.state.samples[voice.id][0]
    assert (sample.native_rate, sample.bytes, sample.sha256) == (48000, len(upload), hashlib.sha256(upload).hexdigest())


def test_too_little_speech_is_rejected_with_the_reason_and_gives_everything_back():
    world = World()
    voice = world.upload(TENANT, 200, seconds=3.0)

    done = world.analyse(voice)

    assert (done.status, done.status_reason) == ("rejected", "AUDIO_TOO_SHORT")
    assert "at least 4 s in total" in done.status_detail
    rejected = world.uow.events(events_pb2.VoiceRejected)[-1]
    assert (rejected.voice_id, rejected.reason) == (voice.id, "AUDIO_TOO_SHORT")
    with world.uow.begin() as tx:
        world.voices.voice_rejected(tx, TENANT, voice.id)
    assert world.store.list(f"samples/{TENANT}/{voice.id}/") == []
    assert world.quotas.released == [voice.reservation_id]


def test_files_of_different_speakers_are_rejected_as_mixed():
    world = World()
    done = world.analyse(world.upload(TENANT, 200, 500))
    assert (done.status, done.status_reason) == ("rejected", "MIXED_SPEAKERS")


def test_another_tenants_voice_blocks_the_enrollment_but_the_same_tenants_is_only_reported():
    world = World()
    owner = world.enrolled(OTHER, 300)

    blocked = world.analyse(world.upload(TENANT, 300))
    assert (blocked.status, blocked.status_reason) == ("rejected", "VOICE_ALREADY_REGISTERED")
    assert OTHER not in blocked.status_detail and owner.id not in blocked.status_detail
    assert blocked.embedding is None

    again = world.analyse(world.upload(OTHER, 300))
    assert (again.status, again.duplicate_of) == ("ready", owner.id)
    assert owner.id in again.status_detail


@pytest.mark.parametrize("failing", ["store", "database"])
def test_a_failed_enrollment_leaves_nothing_behind_and_releases_its_voice_profile(failing):
    world = World()
    if failing == "store":
        world.store.fail_puts = OSError("bucket unavailable")
    else:
        world.uow.fail_commit = OSError("database gone")

    with pytest.raises(OSError):
        world.upload(TENANT, 200, 200)

    assert world.store.objects == {}
    assert world.uow.state.voices == {} and world.uow.state.samples == {} and world.uow.state.events == []
    [reservation] = world.quotas.reserved
    assert world.quotas.released == [reservation] and world.quotas.open() == []


def test_an_undecodable_upload_is_refused_before_any_reservation():
    world = World()
    with pytest.raises(InvalidArgument) as refused:
        world.voices.enroll(TENANT, "narrator", [Upload("x.wav", b"RIFF....WAVEfmt garbage" * 50)])
    assert refused.value.reason == "AUDIO_UNDECODABLE"
    assert world.quotas.reserved == {} and world.store.objects == {}


def test_listing_pages_through_a_tenants_voices_and_deletion_hides_them():
    world = World()
    made = []
    for _ in range(3):
        made.append(world.upload(TENANT, 200).id)
        world.clock.advance(1)
    first = world.voices.list(TENANT, PageRequest(2))
    second = world.voices.list(TENANT, PageRequest(2, first.next))
    assert [v.id for v in first.items + second.items] == made and second.next is None

    world.voices.delete(TENANT, made[0])
    assert [v.id for v in world.voices.list(TENANT, PageRequest(5)).items] == made[1:]
    with pytest.raises(NotFound):
        world.voices.delete(OTHER, made[1])


# --- the build's verdicts (VoiceReady / VoiceBuildFailed), delivered at least once ------------------


def test_the_build_makes_a_voice_ready_once_even_when_redelivered():
    world = World(built_by_synthesis=True)
    voice = world.analyse(world.upload(TENANT, 200))
    assert (voice.status, voice.progress) == ("processing", 0.5)

    for _ in range(2):
        with world.uow.begin() as tx:
            world.voices.voice_built(tx, voice.id)
        assert world.voices.get(TENANT, voice.id).status == "ready"
    ready = world.voices.get(TENANT, voice.id)
    assert (ready.progress, ready.status_reason) == (1.0, "")
    with world.uow.begin() as tx:  # a late failure does not undo a built voice
        world.voices.voice_build_failed(tx, voice.id, "INTERNAL", "late")
    assert world.voices.get(TENANT, voice.id).status == "ready"


def test_a_failed_build_rejects_the_voice_with_its_reason_once_even_when_redelivered():
    world = World(built_by_synthesis=True)
    voice = world.analyse(world.upload(TENANT, 200))

    for _ in range(2):
        with world.uow.begin() as tx:
            world.voices.voice_build_failed(tx, voice.id, "AUDIO_TOO_NOISY", "the references are too noisy")
    failed = world.voices.get(TENANT, voice.id)
    assert (failed.status, failed.status_reason) == ("rejected", "AUDIO_TOO_NOISY")
    assert failed.status_detail == "the voice could not be built: the references are too noisy"
    with world.uow.begin() as tx:
        world.voices.voice_built(tx, voice.id)  # a stale VoiceReady changes nothing
        world.voices.voice_build_failed(tx, "6f1d6b0a-0000-4e43-9c52-2f6f1d6b0a01", "", "unknown voice")
    assert world.voices.get(TENANT, voice.id).status == "rejected"


def test_a_build_failure_without_a_reason_is_internal():
    world = World(built_by_synthesis=True)
    voice = world.analyse(world.upload(TENANT, 200))
    with world.uow.begin() as tx:
        world.voices.voice_build_failed(tx, voice.id, "", "crashed")
    assert world.voices.get(TENANT, voice.id).status_reason == "INTERNAL"


def test_a_deleted_voice_gives_back_its_files_reservation_and_profile():
    world = World()
    voice = world.enrolled(TENANT, 200)
    world.voices.delete(TENANT, voice.id)
    assert voice.id not in world.index.snapshot()
    for _ in range(2):  # redelivered
        with world.uow.begin() as tx:
            world.voices.voice_deleted(tx, TENANT, voice.id)
    assert world.store.list(f"samples/{TENANT}/{voice.id}/") == []
    assert world.quotas.released_profiles[-1] == (TENANT, voice.id)
    assert voice.reservation_id in world.quotas.released


# --- consent -------------------------------------------------------------------------------------


def spoken(world: World, voice: Voice, pitch: float, authorized: tuple[str, ...] = ()):
    challenge, statement = world.consents.challenge(TENANT, voice.id, "en")
    assert challenge.phrase in statement
    world.recogniser.words = challenge.phrase.split()
    audio = codec.encode(tone_bursts(pitch, 4.0, seed=9), 16000, "wav")
    return challenge, world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world, authorized), audio)


def test_spoken_consent_by_the_voices_speaker_is_granted_and_opens_the_voice_to_the_named_tenant():
    world = World()
    voice = world.enrolled(TENANT, 200)

    challenge, consent = spoken(world, voice, 200, authorized=(OTHER,))

    assert consent.kind == "spoken" and consent.phrase_verified and consent.speaker_score == pytest.approx(1.0)
    assert consent.authorized_tenant_ids == [OTHER] and consent.prohibited_uses == [1, 2, 3, 4, 5]
    assert world.store.exists(f"consents/{TENANT}/{voice.id}/{challenge.id}")
    assert world.uow.state.challenges[challenge.id].used_at == world.clock.now()
    assert world.voices.has_consent(voice.id) and world.consents.get(TENANT, voice.id).id == consent.id
    granted = world.uow.events(events_pb2.ConsentGranted)[-1]
    assert (granted.consent_id, list(granted.authorized_tenant_ids)) == (consent.id, [OTHER])
    assert list(world.uow.events(events_pb2.VoiceEmbedding)[-1].authorized_tenant_ids) == [OTHER]
    with pytest.raises(FailedPrecondition) as reused:
        world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world), b"")
    assert reused.value.reason == "CONSENT_REQUIRED"


def test_written_consent_is_recorded_with_the_documents_digest():
    world = World()
    voice = world.enrolled(TENANT, 200)
    consent = world.consents.grant_written(TENANT, voice.id, "ab" * 32, terms(world))
    assert (consent.kind, consent.evidence_sha256, consent.evidence_key) == ("written", "ab" * 32, None)
    with pytest.raises(InvalidArgument):
        world.consents.grant_written(TENANT, voice.id, "not a digest", terms(world))


@pytest.mark.parametrize(
    ("pitch", "marked", "heard", "reason"),
    [
        (500, False, None, "CONSENT_SPEAKER_MISMATCH"),
        (200, True, None, "CONSENT_WATERMARKED"),
        (200, False, ["zebra"] * 4, "CONSENT_PHRASE_MISMATCH"),  # phrases never repeat a word: ≤ 1 of 4 heard
    ],
)
def test_consent_is_refused_for_another_speaker_a_generated_recording_or_the_wrong_phrase(pitch, marked, heard, reason):
    world = World()
    voice = world.enrolled(TENANT, 200)
    world.marker.marked = marked
    challenge, _ = world.consents.challenge(TENANT, voice.id, "en")
    world.recogniser.words = heard if heard is not None else challenge.phrase.split()
    audio = codec.encode(tone_bursts(pitch, 4.0, seed=9), 16000, "wav")

    with pytest.raises(PermissionDenied) as refused:
        world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world), audio)

    assert refused.value.reason == reason
    assert not world.voices.has_consent(voice.id) and world.uow.events(events_pb2.ConsentGranted) == []
    assert world.uow.state.challenges[challenge.id].used_at is None


def test_an_expired_challenge_or_expired_terms_are_refused():
    world = World()
    voice = world.enrolled(TENANT, 200)
    challenge, _ = world.consents.challenge(TENANT, voice.id, "en")
    past = dataclasses.replace(terms(world), expires_at=world.clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidArgument):
        world.consents.submit_spoken(TENANT, voice.id, challenge.id, past, b"")
    world.clock.advance(world.consents.challenge_ttl + 1)
    with pytest.raises(FailedPrecondition) as expired:
        world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world), b"")
    assert expired.value.reason == "CONSENT_REQUIRED"


def test_revoking_consent_disables_the_voice_and_closes_it_to_other_tenants():
    world = World()
    voice = world.enrolled(TENANT, 200)
    _, consent = spoken(world, voice, 200, authorized=(OTHER,))

    revoked = world.consents.revoke(TENANT, voice.id)

    assert revoked.id == consent.id and revoked.revoked_at == world.clock.now()
    disabled = world.voices.get(TENANT, voice.id)
    assert (disabled.status, disabled.status_reason) == ("disabled", "CONSENT_REQUIRED")
    assert not world.voices.has_consent(voice.id)
    assert world.uow.events(events_pb2.ConsentRevoked)[-1].consent_id == consent.id
    assert world.uow.state.events[-1].payload is None  # its speaker-index entry is tombstoned
    world.voices.consent_revoked(TENANT, voice.id)
    assert world.store.list(f"samples/{TENANT}/{voice.id}/") == []
    with pytest.raises(NotFound):
        world.consents.revoke(TENANT, voice.id)
    with pytest.raises(FailedPrecondition) as again:
        world.consents.challenge(TENANT, voice.id)
    assert again.value.reason == "VOICE_NOT_READY"
