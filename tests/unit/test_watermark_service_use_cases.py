"""The watermark service's use cases on fakes: an embed records provenance, detection finds the
generation, and only its owner (or the operator) sees the full record. No database, no codec run."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from kit.audio.codec import encode
from kit.errors import InvalidArgument, NotFound, PermissionDenied
from kit.events.envelope import Event, pack
from services.watermark.domain.callers import Caller
from services.watermark.events.handlers import handlers
from services.watermark.service_layer.marking import Marking
from services.watermark.service_layer.provenance import Provenance
from tests.fakes.clock import FakeClock
from tests.fakes.provenance import FakeProvenanceRegistry, FakeProvenanceUnitOfWork
from tests.fakes.provenance_marker import FakeMarker
from timbre.v1 import events_pb2

OWNER = Caller("tenant-a", "key-a")
OTHER = Caller("tenant-b", "key-b")
OPERATOR = Caller(None, "operator", privileged=True)


def _wav(seconds: float, rate: int = 16000) -> bytes:
    samples = np.random.default_rng(int(seconds * 1000)).uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    return encode(samples, rate, "wav")


@pytest.fixture
def registry() -> FakeProvenanceRegistry:
    return FakeProvenanceRegistry(first_id=7)


@pytest.fixture
def marker() -> FakeMarker:
    return FakeMarker()


@pytest.fixture
def marking(registry, marker) -> Marking:
    return Marking(FakeProvenanceUnitOfWork(registry), marker, FakeClock())


@pytest.fixture
def provenance(registry) -> Provenance:
    return Provenance(FakeProvenanceUnitOfWork(registry))


def test_embed_records_provenance_under_a_fresh_id(marking, registry, marker):
    first = marking.embed(OWNER, _wav(0.5))
    second = marking.embed(OWNER, _wav(0.6), strength_db=2.0)
    assert (first.generation_id, second.generation_id) == (7, 8)
    record = registry.records[7]
    assert (record.tenant_id, record.user_id, record.api_version, registry.sources[7]) == (
        "tenant-a",
        "key-a",
        "v1",
        "embed",
    )
    assert record.created_at == FakeClock().now()
    assert marker.strengths == [None, 2.0] and first.audio[:4] == b"RIFF"


def test_detect_returns_the_generation_and_only_the_owner_sees_its_provenance(marking, provenance):
    marked = marking.embed(OWNER, _wav(0.5))
    found = marking.detect(marked.audio)
    assert found.watermarked and found.generation_id == marked.generation_id
    assert not marking.detect(_wav(0.7)).watermarked

    own, full = provenance.lookup(OWNER, found.generation_id)
    assert full and own.tenant_id == "tenant-a" and own.user_id == "key-a"
    other, other_full = provenance.lookup(OTHER, found.generation_id)
    assert not other_full
    assert (other.tenant_id, other.user_id, other.voice_id, other.api_version, other.model) == ("",) * 5
    assert other.created_at == own.created_at  # anyone may learn that and when Timbre generated it
    as_operator, operator_full = provenance.lookup(OPERATOR, found.generation_id)
    assert operator_full and as_operator == own


def test_only_privileged_callers_choose_the_generation_id_and_nothing_is_recorded_for_them(marking, registry):
    with pytest.raises(PermissionDenied):
        marking.embed(OWNER, _wav(0.5), generation_id=5)
    marked = marking.embed(OPERATOR, _wav(0.5), generation_id=4_000_000_123)
    assert marked.generation_id == 4_000_000_123 and not registry.records
    with pytest.raises(InvalidArgument):
        marking.embed(OPERATOR, _wav(0.5), generation_id=2**32)


@pytest.mark.parametrize(
    ("audio", "reason"),
    [(b"junk" * 100, "AUDIO_UNDECODABLE"), (_wav(0.5, rate=8000), "SAMPLE_RATE_TOO_LOW")],
)
def test_unusable_audio_is_invalid_and_records_nothing(marking, registry, audio, reason):
    with pytest.raises(InvalidArgument) as caught:
        marking.embed(OWNER, audio)
    assert caught.value.reason == reason and not registry.records


def test_strength_outside_the_range_is_invalid(marking):
    with pytest.raises(InvalidArgument):
        marking.embed(OWNER, _wav(0.5), strength_db=7.0)


@pytest.mark.parametrize("generation_id", [0, 123, 2**32])
def test_unknown_generations_are_not_found(provenance, generation_id):
    with pytest.raises(NotFound):
        provenance.lookup(OWNER, generation_id)


def test_completed_generations_are_recorded_once_from_their_events(registry, provenance):
    occurred = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    payload = events_pb2.GenerationCompleted(
        job_id="job-1",
        tenant_id="tenant-a",
        voice_id="voice-1",
        generation_id=4_000_000_001,
        user_id="key-a",
        api_version="v1",
        model="embedded-default",
    )
    envelope = pack(payload, tenant_id="tenant-a")
    envelope.occurred_at.FromDatetime(occurred)
    on_completed = handlers(lambda conn: registry)[payload.DESCRIPTOR.full_name]
    on_completed(object(), Event(envelope, payload))
    changed = events_pb2.GenerationCompleted(generation_id=4_000_000_001, tenant_id="tenant-b")
    on_completed(object(), Event(pack(changed), changed))  # the first record stays
    record, full = provenance.lookup(OWNER, 4_000_000_001)
    assert full and (record.voice_id, record.model, record.created_at) == ("voice-1", "embedded-default", occurred)
    assert registry.sources[4_000_000_001] == "synthesis"


def test_detection_reads_at_most_its_bound_of_a_long_clip(marking, marker, monkeypatch):
    # An unmarked clip costs a full search: a long upload must not hold a worker for minutes.
    import services.watermark.service_layer.marking as marking_module

    monkeypatch.setattr(marking_module, "DETECT_MAX_SECONDS", 1.0)
    seen: list[int] = []
    detect = marker.detect
    monkeypatch.setattr(marker, "detect", lambda samples, rate: seen.append(len(samples)) or detect(samples, rate))
    marking.detect(_wav(3.0))
    marking.detect(_wav(0.5))
    assert seen == [16000, 8000]
