import numpy as np
import pytest

from kit.errors import InvalidArgument
from services.embedding.domain import audio_checks as checks
from services.embedding.domain.consent import WORDS, new_phrase, phrase_match, statement, statement_prefix
from services.embedding.domain.duplicates import Match, decide
from services.embedding.grpc_api.uploads import collect
from timbre.v1 import embedding_pb2

POLICY = checks.AudioPolicy()


def test_duplicate_decision_blocks_only_other_tenants_without_consent():
    matches = [
        Match("v-other", "tenant-b", 0.81, frozenset()),
        Match("v-mine", "tenant-a", 0.9, frozenset()),
        Match("v-low", "tenant-c", 0.2, frozenset()),
    ]
    decision = decide(matches, "tenant-a", "v-new", threshold=0.6)
    assert decision.blocked_by.voice_id == "v-other" and decision.same_tenant.voice_id == "v-mine"
    consented = [Match("v-other", "tenant-b", 0.81, frozenset({"tenant-a"}))]
    decision = decide(consented, "tenant-a", "v-new", threshold=0.6)
    assert decision.blocked_by is None and decision.consented.voice_id == "v-other"
    assert decide([Match("v-new", "tenant-b", 1.0, frozenset())], "tenant-a", "v-new", 0.6).blocked_by is None


def test_snr_and_clipping_measures():
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 4) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)).astype(np.float32)
    assert checks.snr_db(speech) > 40  # pauses are silent
    noisy = speech + rng.normal(0, 0.2, len(speech)).astype(np.float32)
    assert checks.snr_db(noisy) < 10
    assert checks.check_quality(POLICY, "f", noisy).reason == "AUDIO_TOO_NOISY"
    clipped = np.clip(speech * 10, -1, 1)
    assert checks.clipped_fraction(clipped, 0.99) > 0.1
    assert checks.check_quality(POLICY, "f", clipped).reason == "AUDIO_CLIPPED"
    assert checks.check_quality(POLICY, "f", speech) is None


def test_file_speech_and_speaker_checks_name_their_reasons():
    assert checks.check_file(POLICY, "a.wav", 10, 8000).reason == "SAMPLE_RATE_TOO_LOW"
    assert checks.check_file(POLICY, "a.wav", POLICY.max_file_bytes + 1, 48000).reason == "AUDIO_TOO_LARGE"
    assert checks.check_file(POLICY, "a.wav", 10, 16000) is None
    assert checks.check_speech(POLICY, 9.9).reason == "AUDIO_TOO_SHORT"
    assert checks.check_speech(POLICY, 10.0) is None
    mixed = checks.check_same_speaker(POLICY, ["a", "b"], [0.8, 0.1])
    assert mixed.reason == "MIXED_SPEAKERS" and "b (0.10)" in mixed.detail


def test_consent_phrases():
    phrase = new_phrase()
    words = phrase.split()
    assert len(words) == 4 and len(set(words)) == 4 and set(words) <= set(WORDS)
    assert phrase in statement("en", phrase) and phrase in statement("th", phrase)
    assert statement_prefix("en")[:3] == ["i", "consent", "to"]
    assert phrase_match("apple river garden yellow", ["apple", "river", "garden", "window"]) == 0.75
    assert phrase_match("apple river garden yellow", ["river", "apple", "yellow", "garden"]) == 0.0


def _stream(*parts):
    return iter(parts)


def test_upload_streams_are_reassembled_and_checked():
    meta = embedding_pb2.EnrollVoiceRequest(metadata=embedding_pb2.EnrollVoiceMetadata(name="n"))
    chunk = lambda i, data: embedding_pb2.EnrollVoiceRequest(  # noqa: E731
        chunk=embedding_pb2.AudioChunk(file_index=i, filename=f"f{i}", data=data)
    )
    metadata, files = collect(_stream(meta, chunk(0, b"ab"), chunk(1, b"x"), chunk(0, b"cd")), 100)
    assert metadata.name == "n" and [(f.filename, f.data) for f in files] == [("f0", b"abcd"), ("f1", b"x")]
    with pytest.raises(InvalidArgument):
        collect(_stream(chunk(0, b"a")), 100)  # metadata must come first
    with pytest.raises(InvalidArgument) as caught:
        collect(_stream(meta, chunk(0, b"a" * 60), chunk(0, b"a" * 60)), 100)
    assert caught.value.reason == "AUDIO_TOO_LARGE"
    with pytest.raises(InvalidArgument):
        collect(_stream(meta, meta), 100)


def test_upload_collection_refuses_a_file_over_its_own_cap_as_it_arrives():
    meta = embedding_pb2.EnrollVoiceRequest(metadata=embedding_pb2.EnrollVoiceMetadata(name="n"))
    chunk = lambda i, data: embedding_pb2.EnrollVoiceRequest(  # noqa: E731
        chunk=embedding_pb2.AudioChunk(file_index=i, filename=f"f{i}", data=data)
    )
    _, files = collect(_stream(meta, chunk(0, b"a" * 50), chunk(1, b"b" * 50)), 1000, max_file_bytes=50)
    assert [len(f.data) for f in files] == [50, 50]

    def endless():
        yield meta
        while True:
            yield chunk(0, b"a" * 40)

    with pytest.raises(InvalidArgument) as caught:  # the stream is not read to its end
        collect(endless(), 10**9, max_file_bytes=100)
    assert caught.value.reason == "AUDIO_TOO_LARGE" and "f0" in str(caught.value)
