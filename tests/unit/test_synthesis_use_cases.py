"""The synthesis use cases on fakes (no database, broker, tenancy or model): speaking, jobs, webhooks,
job audio, paging and the voice cache. Each test runs in milliseconds."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import cast

import grpc
import numpy as np
import pytest
import structlog

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, QuotaExceeded
from kit.events.topics import DEDICATED_JOBS, GENERATION_LIFECYCLE
from kit.grpc.auth import Principal, reset_principal, set_principal
from kit.net.egress import EgressPolicy
from kit.paging import PageRequest
from kit.storage.keys import artifact_key
from kit.watermark import SLOT_SECONDS
from services.synthesis.config import SynthesisSettings
from services.synthesis.grpc_api.servicer import SynthesisServicer
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.service_layer.jobs import JOB_QUOTA_TTL_SECONDS, JobOutcome, Jobs
from services.synthesis.service_layer.speech import Caller, Speaker, SpeechRequest
from services.synthesis.service_layer.voice_builds import BuildOutcome, BuildRequest, VoiceBuilds, VoiceRef
from services.synthesis.service_layer.webhooks import Deliverer, Webhooks
from tests.fakes.clock import FakeClock
from tests.fakes.data_keys import fake_vault
from tests.fakes.engine import FakeEngine, FakeMarker
from tests.fakes.storage import FakeObjectStore
from tests.fakes.synthesis import FakeQuotas, FakeRepository, FakeSender, FakeUnitOfWork, StoredSamples
from timbre.v1 import common_pb2, synthesis_pb2

TENANT = "t-1"
CALLER = Caller(TENANT, "key-1", common_pb2.TIER_PRO)
SEGMENT_SECONDS = 1.472


@pytest.fixture(autouse=True)
def plain_logging():
    """Another test may have configured logging onto its own (since closed) captured stdout."""
    structlog.reset_defaults()


@dataclass
class World:
    clock: FakeClock
    store: FakeObjectStore
    engine: FakeEngine
    marker: FakeMarker
    quotas: FakeQuotas
    uow: FakeUnitOfWork
    artifacts: Artifacts
    speaker: Speaker
    webhooks: Webhooks
    jobs: Jobs
    builds: VoiceBuilds
    voice_id: str

    def request(self, text: str = "Hello there. How are you?", **options) -> SpeechRequest:
        return SpeechRequest(self.voice_id, text, **{"language": "en", "format": "wav", **options})


@pytest.fixture
def world() -> World:
    clock, store, engine, marker, quotas = FakeClock(), FakeObjectStore(), FakeEngine(), FakeMarker(), FakeQuotas()
    uow = FakeUnitOfWork(clock)
    artifacts = Artifacts(store, engine, cache_size=4, vault=fake_vault(store), uow=uow)
    speaker = Speaker(uow, artifacts, engine, marker, quotas, SEGMENT_SECONDS, 1800, clock)
    webhooks = Webhooks(uow, clock, EgressPolicy(resolver=lambda host, port: ["93.184.215.14"]))  # a public address
    jobs = Jobs(uow, store, speaker, webhooks, max_attempts=2, clock=clock)
    builds = VoiceBuilds(store, artifacts, engine, clock, samples=StoredSamples(store))
    w = World(clock, store, engine, marker, quotas, uow, artifacts, speaker, webhooks, jobs, builds, str(uuid.uuid4()))
    speakable(w, w.voice_id)
    return w


def speakable(w: World, voice_id: str) -> None:
    """A voice built and consented, as the voice lifecycle events leave it."""
    repo = w.uow.joined()
    w.builds.requested(repo, VoiceRef(voice_id, TENANT))
    key = w.artifacts.put(TENANT, voice_id, b"artifact-" + voice_id.encode())
    w.builds.apply_build(repo, BuildRequest(voice_id, TENANT, ()), BuildOutcome(artifact_key=key))
    w.builds.consent_granted(repo, VoiceRef(voice_id, TENANT), "consent-1", w.clock.now() + timedelta(days=30))


# --- speaking: admission --------------------------------------------------------------------------


def test_admission_checks_text_and_options_first_then_the_voice_then_quota(world):
    w = world
    w.quotas.refuse = QuotaExceeded("over quota")
    unknown = replace(w.request("a" * 5001), voice_id=str(uuid.uuid4()))
    with pytest.raises(InvalidArgument) as too_long:
        w.speaker.synthesize(CALLER, unknown)
    assert too_long.value.reason == "TEXT_TOO_LONG"  # the text, before looking the voice up
    with pytest.raises(NotFound):
        w.speaker.synthesize(CALLER, replace(w.request(), voice_id=unknown.voice_id))  # the voice, before quota
    with pytest.raises(NotFound):  # another tenant's voice is not found either
        w.speaker.synthesize(Caller("t-2", "k", common_pb2.TIER_PRO), w.request())
    w.builds.consent_revoked(w.uow.joined(), VoiceRef(w.voice_id, TENANT))
    with pytest.raises(FailedPrecondition) as revoked:
        w.speaker.synthesize(CALLER, w.request())
    assert revoked.value.reason == "CONSENT_REQUIRED"
    assert w.quotas.reserved == []  # nothing reserved for a request refused on its own merits
    other = str(uuid.uuid4())
    speakable(w, other)
    with pytest.raises(QuotaExceeded):
        w.speaker.synthesize(CALLER, replace(w.request(), voice_id=other))
    assert w.uow.tables.generations == {} and w.engine.spoken_with == []


def test_voice_states_answer_as_before_not_ready_consent_required_not_found(world):
    w = world
    building = str(uuid.uuid4())
    w.builds.requested(w.uow.joined(), VoiceRef(building, TENANT))
    with pytest.raises(FailedPrecondition) as not_ready:
        w.speaker.voice_for(TENANT, building)
    assert not_ready.value.reason == "VOICE_NOT_READY"
    rejected = str(uuid.uuid4())
    w.builds.rejected(w.uow.joined(), VoiceRef(rejected, TENANT))
    with pytest.raises(FailedPrecondition) as failed:
        w.speaker.voice_for(TENANT, rejected)
    assert failed.value.reason == "VOICE_NOT_READY"
    w.builds.apply_build(w.uow.joined(), BuildRequest(building, TENANT, ()), BuildOutcome(reason="MODEL_MISSING"))
    with pytest.raises(FailedPrecondition) as build_failed:
        w.speaker.voice_for(TENANT, building)
    assert build_failed.value.reason == "VOICE_NOT_READY"
    w.clock.advance(31 * 86400)
    with pytest.raises(FailedPrecondition) as expired:
        w.speaker.voice_for(TENANT, w.voice_id)
    assert expired.value.reason == "CONSENT_REQUIRED"
    w.builds.deleted(w.uow.joined(), VoiceRef(w.voice_id, TENANT))
    with pytest.raises(NotFound):
        w.speaker.voice_for(TENANT, w.voice_id)
    assert not w.store.exists(artifact_key(TENANT, w.voice_id))


# --- speaking: the mark's slot grid -------------------------------------------------------------


@pytest.mark.parametrize("chunks, rate", [(1, 16000), (7, 22050), (40, 24000)])
def test_segments_are_cut_on_the_slot_grid_and_marked_from_their_place(world, chunks, rate):
    w = world
    w.engine.chunks = chunks
    text = "x" * 400  # 20 s of tone
    options = w.request(text, sample_rate=rate).options()
    state = w.speaker.voice_for(TENANT, w.voice_id)
    segments = list(w.speaker.marked_segments(state, text, options, 2**31 + 5))
    spoken = np.concatenate(list(w.engine.synthesize(text, None, options)))
    assert np.array_equal(np.concatenate(segments), spoken)  # nothing lost, nothing repeated
    slot = SLOT_SECONDS * rate
    start = 0
    for index, (segment, (length, generation_id, first_slot)) in enumerate(zip(segments, w.marker.calls, strict=True)):
        assert length == len(segment) and generation_id == 2**31 + 5
        assert start == round(first_slot * slot)  # each segment starts on the grid, marked from its place
        start += len(segment)
        if index < len(segments) - 1:  # all but the tail: whole slots, at least segment_seconds
            slots = start / slot
            assert abs(slots - round(slots)) * slot <= 1
            assert len(segment) >= math.ceil(SEGMENT_SECONDS / SLOT_SECONDS) * slot - 1
    assert len(segments) > 1


# --- speaking: quota settlement -----------------------------------------------------------------


def test_a_finished_generation_commits_its_reservation_and_records_it_once(world):
    w = world
    result = w.speaker.synthesize(CALLER, w.request())
    assert w.quotas.committed == ["r1"] and w.quotas.released == []
    record = w.uow.tables.generations[result.generation_id]
    assert record.kind == "unary" and record.characters == len(w.request().text) and record.model == "fake"
    assert w.uow.event_types() == ["GenerationCompleted", "UsageRecorded"]


def test_a_failing_engine_releases_the_reservation_and_announces_the_failure_only(world):
    w = world
    w.engine.fail_after = 1
    with pytest.raises(RuntimeError):
        w.speaker.synthesize(CALLER, w.request())
    assert w.quotas.released == ["r1"] and w.quotas.committed == []
    assert w.uow.tables.generations == {} and w.uow.event_types() == ["GenerationFailed"]
    ((topic, key, failed),) = w.uow.tables.events
    assert topic == GENERATION_LIFECYCLE.name and key == failed.generation_ref and int(failed.generation_ref) >= 2**31
    assert (failed.tenant_id, failed.voice_id, failed.language, failed.model) == (TENANT, w.voice_id, "en", "fake")
    assert (failed.characters, failed.kind, failed.reason, failed.detail) == (
        len(w.request().text),
        "unary",
        "INTERNAL",
        "RuntimeError",  # the class, not the message (an engine's message may quote the text)
    )
    _, pieces = w.speaker.stream(CALLER, w.request("y" * 200))
    with pytest.raises(RuntimeError):
        b"".join(pieces)
    streamed = w.uow.tables.events[-1][2]
    assert (type(streamed).__name__, streamed.kind, streamed.characters) == ("GenerationFailed", "stream", 200)
    assert w.quotas.released == ["r1", "r2"]


def test_a_failure_that_cannot_be_announced_still_answers_with_the_original_error(world, monkeypatch):
    w = world
    w.engine.fail_after = 1
    original_stage = FakeRepository.stage

    def stage(self, topic, key, payload, tenant_id=""):
        if type(payload).__name__ == "GenerationFailed":
            raise ConnectionError("the database went away")
        original_stage(self, topic, key, payload, tenant_id)

    monkeypatch.setattr(FakeRepository, "stage", stage)
    with pytest.raises(RuntimeError, match="engine died"):
        w.speaker.synthesize(CALLER, w.request())
    assert w.quotas.released == ["r1"] and w.uow.event_types() == []


def usage_events(w: World) -> list:
    return [p for _, _, p in w.uow.tables.events if type(p).__name__ == "UsageRecorded"]


def test_usage_carries_the_voice_worker_class_kind_and_latencies(world):
    w = world
    w.speaker.worker_class = "gpu-nvidia-a10g"
    embed = w.marker.embed

    def slow_embed(*args, **kwargs):  # each marked segment takes 0.25 s of the (fake) clock
        w.clock.advance(0.25)
        return embed(*args, **kwargs)

    w.marker.embed = slow_embed  # type: ignore[method-assign]
    w.speaker.synthesize(CALLER, w.request("y" * 200))
    _, pieces = w.speaker.stream(CALLER, w.request("y" * 200))
    b"".join(pieces)
    unary, stream = usage_events(w)
    segments = len(w.marker.calls) // 2
    assert segments > 1
    for usage, kind in ((unary, "unary"), (stream, "stream")):
        assert (usage.kind, usage.voice_id, usage.worker_class) == (kind, w.voice_id, "gpu-nvidia-a10g")
        assert usage.total_seconds == pytest.approx(0.25 * segments) == usage.compute_seconds
    assert unary.first_chunk_seconds == unary.total_seconds  # a unary answer's first byte leaves with its last
    assert stream.first_chunk_seconds == pytest.approx(0.25) and stream.first_chunk_seconds < stream.total_seconds


def test_usage_names_the_reservation_it_ran_under_for_unary_stream_and_job(world):
    """Tenancy settles that reservation from the event if the synchronous commit never comes."""
    w = world
    w.speaker.synthesize(CALLER, w.request())
    _, pieces = w.speaker.stream(CALLER, w.request("y" * 200))
    b"".join(pieces)
    job = w.jobs.submit(CALLER, w.request("z" * 300))
    run_job(w, job.job_id)
    assert job.reservation_id == "r3"
    assert [(u.kind, u.reservation_id) for u in usage_events(w)] == [("unary", "r1"), ("stream", "r2"), ("job", "r3")]


def test_a_generation_whose_commit_fails_is_recorded_with_its_reservation_for_tenancy_to_settle(world):
    w = world

    def unreachable(reservation_id: str, characters: int = -1) -> None:
        raise ConnectionError("tenancy is unreachable")

    w.quotas.commit = unreachable  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        w.speaker.synthesize(CALLER, w.request())
    (usage,) = usage_events(w)
    assert usage.reservation_id == "r1" and w.quotas.released == []  # recorded work is never given back


def test_speech_takes_the_short_lease_and_jobs_keep_the_long_one(world):
    w = world
    w.speaker.quota_ttl = 300
    w.speaker.synthesize(CALLER, w.request())
    w.speaker.synthesize(CALLER, w.request("y" * 4000))  # longer texts: 0.1 s a character
    w.jobs.submit(CALLER, w.request("z" * 300))
    w.jobs.submit(CALLER, w.request("z" * 30_000))
    assert [amounts["ttl_seconds"] for _, amounts in w.quotas.reserved] == [300, 400, JOB_QUOTA_TTL_SECONDS, 3000]
    assert JOB_QUOTA_TTL_SECONDS == 1800 and SynthesisSettings.model_fields["quota_ttl_seconds"].default == 300


def test_a_client_gone_mid_stream_releases_the_reservation(world):
    w = world
    _, pieces = w.speaker.stream(CALLER, w.request("y" * 200))
    assert next(pieces)
    pieces.close()  # what gRPC does when the client goes away
    assert w.quotas.released == ["r1"] and w.quotas.committed == []
    assert w.uow.tables.generations == {} and w.uow.event_types() == []  # gone, not failed: no GenerationFailed
    _, whole = w.speaker.stream(CALLER, w.request("y" * 200))
    assert b"".join(whole) and w.quotas.committed == ["r2"]
    assert [g.kind for g in w.uow.tables.generations.values()] == ["stream"]


# --- the voice cache ----------------------------------------------------------------------------


def test_a_voice_is_loaded_once_and_again_after_revocation_or_a_rebuild(world):
    w = world
    w.speaker.synthesize(CALLER, w.request())
    w.speaker.synthesize(CALLER, w.request())
    assert len(w.engine.loads) == 1
    assert w.engine.spoken_with[0] is w.engine.spoken_with[1]  # the loaded voice, not the bytes
    # Rebuilt by a worker elsewhere: same key, new version; this worker loads the new artifact.
    w.store.put(artifact_key(TENANT, w.voice_id), b"rebuilt")
    w.clock.advance(60)
    w.builds.apply_build(
        w.uow.joined(),
        BuildRequest(w.voice_id, TENANT, ()),
        BuildOutcome(artifact_key=artifact_key(TENANT, w.voice_id)),
    )
    w.speaker.synthesize(CALLER, w.request())
    assert w.engine.loads == [w.engine.loads[0], b"rebuilt"]
    w.builds.consent_revoked(w.uow.joined(), VoiceRef(w.voice_id, TENANT))
    assert len(w.artifacts.cache) == 0
    other = str(uuid.uuid4())
    speakable(w, other)
    w.speaker.synthesize(CALLER, replace(w.request(), voice_id=other))
    w.builds.deleted(w.uow.joined(), VoiceRef(other, TENANT))
    assert len(w.artifacts.cache) == 0 and len(w.engine.loads) == 3


def test_the_voice_cache_is_bounded(world):
    w = world
    voices = [str(uuid.uuid4()) for _ in range(6)]
    for voice_id in voices:
        speakable(w, voice_id)
        w.speaker.synthesize(CALLER, replace(w.request(), voice_id=voice_id))
    assert len(w.artifacts.cache) == 4
    w.speaker.synthesize(CALLER, replace(w.request(), voice_id=voices[0]))  # evicted: loaded again
    assert len(w.engine.loads) == 7


# --- jobs ---------------------------------------------------------------------------------------


def run_job(w: World, job_id: str) -> None:
    """What the jobs consumer does with GenerationRequested."""
    outcome = w.jobs.run(job_id)
    repo = w.uow.joined()
    w.jobs.finish(repo, job_id, outcome)
    w.uow.commit(repo)


def test_a_job_is_claimed_run_recorded_and_its_reservation_committed(world):
    w = world
    hook, _ = w.webhooks.create(TENANT, "https://example.com/hook", [])
    job = w.jobs.submit(CALLER, w.request("z" * 300), idempotency_key="k1")
    assert job.state == "queued" and w.jobs.submit(CALLER, w.request("z" * 300), "k1").job_id == job.job_id
    assert len(w.quotas.reserved) == 1 and w.uow.event_types() == ["GenerationRequested"]
    run_job(w, job.job_id)
    done = w.jobs.get(TENANT, job.job_id)
    assert done.state == "succeeded" and done.attempts == 1 and done.progress == 1.0
    assert done.audio_seconds == pytest.approx(300 * 0.05, abs=0.01)
    assert w.quotas.committed == [job.reservation_id] and w.quotas.released == []
    assert [g.job_id for g in w.uow.tables.generations.values()] == [job.job_id]
    assert w.uow.event_types()[1:] == ["GenerationStarted", "GenerationCompleted", "UsageRecorded"]
    (usage,) = usage_events(w)
    assert (usage.kind, usage.generation_ref, usage.voice_id, usage.worker_class) == (
        "job",
        job.job_id,
        w.voice_id,
        "cpu",
    )
    assert usage.first_chunk_seconds == usage.total_seconds >= usage.compute_seconds
    assert [d.webhook_id for d in w.uow.tables.deliveries.values()] == [hook.webhook_id]
    run_job(w, job.job_id)  # redelivered after it finished: nothing happens again
    assert len(w.uow.tables.generations) == 1 and w.quotas.committed == [job.reservation_id]


def test_jobs_of_a_dedicated_tier_wait_on_the_dedicated_pools_topic_and_run_the_same(world):
    w = world
    w.jobs.dedicated_tiers = frozenset({"enterprise"})
    enterprise = Caller(TENANT, "key-2", common_pb2.TIER_ENTERPRISE)
    shared = w.jobs.submit(CALLER, w.request())
    dedicated = w.jobs.submit(enterprise, w.request())
    queued = {key: topic for topic, key, _ in w.uow.tables.events}
    assert queued == {shared.job_id: GENERATION_LIFECYCLE.name, dedicated.job_id: DEDICATED_JOBS.name}
    run_job(w, dedicated.job_id)  # a dedicated worker runs it as any worker would
    assert w.jobs.get(TENANT, dedicated.job_id).state == "succeeded"


def test_a_job_is_retried_and_fails_for_good_after_its_attempts(world):
    w = world
    job = w.jobs.submit(CALLER, w.request())
    assert w.jobs.start(job.job_id).attempts == 1  # a worker claimed it, then died
    assert w.jobs.start(job.job_id).attempts == 2  # redelivered: claimed again
    run_job(w, job.job_id)  # a third delivery: out of attempts
    failed = w.jobs.get(TENANT, job.job_id)
    assert failed.state == "failed" and failed.error_reason == "INTERNAL"
    assert w.quotas.released == [job.reservation_id] and w.quotas.committed == []
    assert "GenerationFailed" in w.uow.event_types() and w.uow.tables.generations == {}


def test_an_engine_error_fails_the_job_and_releases_its_reservation(world):
    w = world
    job = w.jobs.submit(CALLER, w.request())
    w.builds.consent_revoked(w.uow.joined(), VoiceRef(w.voice_id, TENANT))
    run_job(w, job.job_id)
    failed = w.jobs.get(TENANT, job.job_id)
    assert failed.state == "failed" and failed.error_reason == "CONSENT_REQUIRED"
    assert w.quotas.released == [job.reservation_id]
    (event,) = [p for _, _, p in w.uow.tables.events if type(p).__name__ == "GenerationFailed"]
    assert (event.job_id, event.generation_ref, event.kind, event.reason) == (
        job.job_id,
        job.job_id,
        "job",
        "CONSENT_REQUIRED",
    )
    assert (event.voice_id, event.language, event.model, event.characters) == (
        w.voice_id,
        "en",
        "fake",
        len(w.request().text),
    )


def test_cancelling_releases_the_slot_stops_the_run_and_cannot_happen_twice(world):
    w = world
    job = w.jobs.submit(CALLER, w.request("q" * 400))
    w.jobs.start(job.job_id)
    cancelled = w.jobs.cancel(TENANT, job.job_id)
    assert cancelled.state == "cancelled" and w.quotas.released == [job.reservation_id]
    with pytest.raises(FailedPrecondition):
        w.jobs.cancel(TENANT, job.job_id)
    with pytest.raises(NotFound):
        w.jobs.cancel("t-2", job.job_id)
    running = w.jobs.submit(CALLER, w.request("q" * 400))
    w.jobs.start(running.job_id)
    w.jobs.cancel(TENANT, running.job_id)
    with pytest.raises(Exception) as stopped:  # the run's progress note finds it cancelled
        w.jobs.note_progress(running, 0.5)
    assert type(stopped.value).__name__ == "Cancelled"
    run_job(w, running.job_id)
    assert w.jobs.get(TENANT, running.job_id).state == "cancelled" and w.uow.tables.generations == {}


# --- paging -------------------------------------------------------------------------------------


def test_a_page_that_holds_exactly_the_limit_is_the_last_one(world):
    w = world
    for _ in range(3):
        w.jobs.submit(CALLER, w.request())
        w.webhooks.create(TENANT, "https://example.com/h", [])
        w.clock.advance(1)
    for listing in (
        lambda page: w.jobs.list(TENANT, None, page),
        lambda page: w.webhooks.list(TENANT, page),
    ):
        exact = listing(PageRequest.of(3, ""))
        assert len(exact.items) == 3 and exact.next_token == ""
        first = listing(PageRequest.of(2, ""))
        assert len(first.items) == 2 and first.next_token
        rest = listing(PageRequest.of(2, first.next_token))
        assert len(rest.items) == 1 and rest.next_token == ""
        assert rest.items[0] not in first.items


def test_list_rpcs_give_a_token_only_when_more_follow(world):
    w = world
    for _ in range(2):
        w.jobs.submit(CALLER, w.request())
        w.clock.advance(1)
    servicer = SynthesisServicer(w.speaker, w.jobs, w.webhooks)
    token = set_principal(Principal("key-1", "tenant", TENANT, "key-1", common_pb2.TIER_PRO))
    try:
        page = common_pb2.PageRequest(page_size=2)
        assert servicer.ListJobs(synthesis_pb2.ListJobsRequest(page=page), None).page.next_page_token == ""
        page = common_pb2.PageRequest(page_size=1)
        first = servicer.ListJobs(synthesis_pb2.ListJobsRequest(page=page), None)
        assert first.page.next_page_token
        page = common_pb2.PageRequest(page_size=1, page_token=first.page.next_page_token)
        last = servicer.ListJobs(synthesis_pb2.ListJobsRequest(page=page), None)
        assert len(last.jobs) == 1 and last.jobs[0].job_id != first.jobs[0].job_id
        assert last.page.next_page_token == ""
    finally:
        reset_principal(token)


# --- job audio ----------------------------------------------------------------------------------


def finished_job(w: World, audio: bytes) -> str:
    job = w.jobs.submit(CALLER, w.request())
    key = f"jobs/{TENANT}/{job.job_id}.wav"
    w.store.put(key, audio, "audio/wav")
    repo = w.uow.joined()
    repo.save_job(replace(w.jobs.get(TENANT, job.job_id), state="succeeded", audio_key=key))
    return job.job_id


def test_read_job_audio_streams_a_file_larger_than_one_chunk_whole_and_in_ranges(world):
    w = world
    audio = bytes(np.random.default_rng(1).integers(0, 256, (5 << 19) + 123, dtype=np.uint8))  # 2.5 MiB
    job_id = finished_job(w, audio)
    servicer = SynthesisServicer(w.speaker, w.jobs, w.webhooks)
    token = set_principal(Principal("key-1", "tenant", TENANT, "key-1", common_pb2.TIER_PRO))
    try:

        def read(offset: int = 0, length: int = 0) -> list[synthesis_pb2.ReadJobAudioResponse]:
            request = synthesis_pb2.ReadJobAudioRequest(job_id=job_id, offset=offset, length=length)
            return list(servicer.ReadJobAudio(request, cast(grpc.ServicerContext, None)))

        whole = read()
        assert len(whole) == 3 and b"".join(m.chunk for m in whole) == audio
        assert {(m.total_size, m.content_type, m.format) for m in whole} == {
            (len(audio), "audio/wav", common_pb2.AUDIO_FORMAT_WAV)
        }
        assert b"".join(m.chunk for m in read(1_000_000, 1_500_000)) == audio[1_000_000:2_500_000]
        assert b"".join(m.chunk for m in read(len(audio) - 10)) == audio[-10:]
        assert b"".join(m.chunk for m in read(5, 10**9)) == audio[5:]  # a range past the end stops there
        with pytest.raises(InvalidArgument):
            read(len(audio))
        with pytest.raises(InvalidArgument):
            read(-1)
        assert servicer.GetJobAudio(synthesis_pb2.GetJobAudioRequest(job_id=job_id), None).audio == audio
    finally:
        reset_principal(token)


def test_read_job_audio_answers_not_found_and_not_finished(world):
    w = world
    job_id = finished_job(w, b"RIFF....")
    with pytest.raises(NotFound):
        w.jobs.read_audio("t-2", job_id)
    with pytest.raises(NotFound):
        w.jobs.read_audio(TENANT, str(uuid.uuid4()))
    queued = w.jobs.submit(CALLER, w.request())
    with pytest.raises(FailedPrecondition):
        w.jobs.read_audio(TENANT, queued.job_id)


# --- webhooks -----------------------------------------------------------------------------------


def staged_delivery(w: World) -> str:
    job = w.jobs.submit(CALLER, w.request())
    run_job(w, job.job_id)
    (delivery,) = [d for d in w.uow.tables.deliveries.values() if d.delivered_at is None and d.abandoned_at is None]
    return delivery.delivery_id


def test_a_delivered_webhook_is_recorded_signed_and_resets_the_failure_count(world):
    w = world
    hook, secret = w.webhooks.create(TENANT, "https://example.com/hook", ["job.succeeded"])
    w.uow.tables.webhooks[hook.webhook_id] = replace(hook, consecutive_failures=2)
    delivery_id = staged_delivery(w)
    sender = FakeSender(None)
    assert Deliverer(w.uow, sender, clock=w.clock).deliver_due() == 1
    delivery = w.uow.tables.deliveries[delivery_id]
    assert delivery.delivered_at == w.clock.now() and delivery.attempts == 1
    assert w.uow.tables.webhooks[hook.webhook_id].consecutive_failures == 0
    url, body, headers = sender.sent[0]
    from services.synthesis.domain.webhooks import SIGNATURE_HEADER, verify

    assert url == hook.url and verify(secret, headers[SIGNATURE_HEADER], body, int(w.clock.now().timestamp()))
    assert Deliverer(w.uow, sender, clock=w.clock).deliver_due() == 0  # delivered: not sent again


def test_a_failed_delivery_is_retried_with_backoff_then_the_endpoint_is_disabled(world):
    w = world
    hook, _ = w.webhooks.create(TENANT, "https://example.com/hook", [])
    delivery_id = staged_delivery(w)
    deliverer = Deliverer(w.uow, FakeSender("HTTP 500", "HTTP 502", "HTTP 503"), 6, 2.0, 3, clock=w.clock)
    assert deliverer.deliver_due() == 1
    delivery = w.uow.tables.deliveries[delivery_id]
    assert delivery.attempts == 1 and delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at == w.clock.now() + timedelta(seconds=2)
    assert deliverer.deliver_due() == 0  # not due yet
    w.clock.advance(2)
    deliverer.deliver_due()
    assert w.uow.tables.deliveries[delivery_id].next_attempt_at == w.clock.now() + timedelta(seconds=4)
    w.clock.advance(4)
    deliverer.deliver_due()
    delivery = w.uow.tables.deliveries[delivery_id]
    hook = w.uow.tables.webhooks[hook.webhook_id]
    assert delivery.abandoned_at == w.clock.now() and delivery.attempts == 3
    assert hook.disabled and hook.consecutive_failures == 3
    assert hook.disabled_reason == "3 deliveries failed in a row; last: HTTP 503"


def test_deliveries_to_a_deleted_endpoint_are_abandoned_unsent(world):
    w = world
    hook, _ = w.webhooks.create(TENANT, "https://example.com/hook", [])
    delivery_id = staged_delivery(w)
    w.webhooks.delete(TENANT, hook.webhook_id)
    sender = FakeSender()
    assert Deliverer(w.uow, sender, clock=w.clock).deliver_due() == 0
    assert sender.sent == [] and w.uow.tables.deliveries[delivery_id].abandoned_at is not None
    with pytest.raises(NotFound):
        w.webhooks.delete(TENANT, hook.webhook_id)


def test_job_outcome_defaults_are_a_success_without_audio():
    assert not JobOutcome().reason and not JobOutcome().skipped


def test_the_worker_class_is_configured_or_follows_the_engines_device():
    from services.synthesis.engine.worker_class import detect_worker_class, slug, worker_class_of

    assert slug("NVIDIA A10G") == "nvidia-a10g" and slug(" Tesla T4 (PCIe) ") == "tesla-t4-pcie"
    assert worker_class_of(" gpu-nvidia-l4 ", "cpu") == "gpu-nvidia-l4"
    assert worker_class_of("", "cpu") == detect_worker_class("cpu") == "cpu"  # torch not even imported
