"""Pure rules of the synthesis service: voice states, webhook signatures and backoff, streaming
encoders, and marking a stream in segments."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest

from kit.audio.codec import decode, fixed_rate
from kit.audio.stream_encoder import StreamEncoder
from kit.errors import FailedPrecondition, InvalidArgument
from kit.watermark import SLOT_SECONDS
from services.synthesis.domain import webhooks
from services.synthesis.domain.generations import FORMATS, audio_rate
from services.synthesis.domain.voices import VoiceState
from services.synthesis.grpc_api.convert import format_code, format_name

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def state(**changes) -> VoiceState:
    values = {
        "voice_id": "v",
        "tenant_id": "t",
        "artifact_key": "k",
        "engine": "embedded",
        "consent_id": "c",
        "consent_expires_at": NOW + timedelta(days=1),
    }
    return VoiceState(**{**values, **changes})


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"artifact_key": ""}, "VOICE_NOT_READY"),  # being built, or its build failed
        ({"artifact_key": "", "revoked": True}, "CONSENT_REQUIRED"),
        ({"revoked": True}, "CONSENT_REQUIRED"),
        ({"consent_id": None}, "CONSENT_REQUIRED"),
        ({"consent_expires_at": NOW - timedelta(seconds=1)}, "CONSENT_REQUIRED"),
    ],
)
def test_a_voice_speaks_only_built_and_under_an_active_consent(changes, reason):
    with pytest.raises(FailedPrecondition) as caught:
        state(**changes).check_can_speak(NOW)
    assert caught.value.reason == reason
    state().check_can_speak(NOW)  # the same voice, ready and consented, may speak


def test_webhook_signature_verifies_only_with_the_secret_the_body_and_a_fresh_time():
    body = b'{"job_id":"j"}'
    header = webhooks.signature("whsec_a", 1_000, body)
    assert header.startswith("t=1000,v1=") and len(header.split("v1=")[1]) == 64
    assert webhooks.verify("whsec_a", header, body, now=1_010)
    assert not webhooks.verify("whsec_b", header, body, now=1_010)
    assert not webhooks.verify("whsec_a", header, body + b" ", now=1_010)
    assert not webhooks.verify("whsec_a", header, body, now=1_000 + 301)  # replayed later
    assert not webhooks.verify("whsec_a", "garbage", body, now=1_000)


def test_webhook_backoff_doubles_up_to_a_cap_and_urls_are_checked():
    assert [webhooks.backoff(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert webhooks.backoff(30, 2.0) == 3600.0
    for url in ("ftp://x/hook", "http:///nohost", "not a url", "http://x/" + "a" * 2000):
        with pytest.raises(InvalidArgument):
            webhooks.check_url(url)
    assert webhooks.check_url("https://example.com/hook") == "https://example.com/hook"


def test_format_names_and_codes_round_trip_and_unknown_ones_fail():
    for name in FORMATS:
        assert format_name(format_code(name)) == name
    assert format_name(0) == "mp3"
    with pytest.raises(InvalidArgument):
        format_code("aiff")
    with pytest.raises(InvalidArgument):
        format_name(99)


def decode_stream(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """A streamed answer as a client reads it: files by their headers, headerless formats by name."""
    if fmt.startswith("pcm_"):
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, int(fmt.split("_")[1])
    if fmt == "ulaw_8000":
        with av.open(io.BytesIO(data), mode="r", format="mulaw", options={"sample_rate": "8000"}) as container:
            frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        return np.concatenate(frames).astype(np.float32) / 32768, 8000
    clip = decode(data, target_rate=None)
    return clip.samples, clip.sample_rate


@pytest.mark.parametrize("fmt", FORMATS)
def test_streamed_pieces_concatenate_to_one_decodable_file(fmt):
    rate = 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate * 4) / rate)).astype(np.float32)
    encoder = StreamEncoder(fmt, rate)
    first = round(2 * SLOT_SECONDS * rate)  # a stream's first marked piece: two slots
    cuts = [0, first, *range(first + 5000, len(tone), 5000), len(tone)]
    pieces = [encoder.encode(tone[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)] + [encoder.finish()]
    # Audio leaves with the first 128 ms piece, not only a header: the first piece alone decodes to sound.
    alone, alone_rate = decode_stream(pieces[0], fmt)
    assert len(alone) / alone_rate > 0.05, f"{fmt}: the first piece alone holds {len(alone)} samples"
    assert all(pieces[1:-2]), "every whole piece gives bytes at once (the last is a short remnant)"
    samples, decoded_rate = decode_stream(b"".join(pieces), fmt)
    if fixed_rate(fmt):
        assert decoded_rate == fixed_rate(fmt)  # a headerless format is at the rate its name gives
    assert len(samples) / decoded_rate == pytest.approx(4.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * decoded_rate / len(samples) == pytest.approx(220, abs=2)  # the tone


def test_headerless_formats_name_their_rate_and_refuse_another():
    assert audio_rate("pcm_16000", 0) == 16000 and audio_rate("ulaw_8000", 8000) == 8000
    assert audio_rate("mp3", 0) == 0 and audio_rate("wav", 44100) == 44100
    with pytest.raises(InvalidArgument) as refused:
        audio_rate("pcm_24000", 16000)
    assert refused.value.metadata["field"] == "sample_rate"


def test_speaker_marks_a_stream_in_segments_that_detect_as_one_mark():
    """Speaker.marked_segments (the real cutting, fed by an engine whose chunks do not fall on the
    grid) gives pieces that read as one mark over the whole stream and in a 3 s piece across a cut;
    pieces that each start the block afresh do not."""
    import uuid

    from cli import samples
    from kit.audio.codec import resample
    from kit.watermark import Watermarker
    from services.synthesis.engine.interface import SpeechOptions
    from services.synthesis.service_layer.artifacts import Artifacts
    from services.synthesis.service_layer.speech import Speaker
    from tests.fakes.clock import FakeClock
    from tests.fakes.data_keys import fake_vault
    from tests.fakes.engine import FakeEngine
    from tests.fakes.storage import FakeObjectStore
    from tests.fakes.synthesis import FakeQuotas, FakeUnitOfWork

    rate = 22050
    speech = resample(samples.espeak(" ".join(samples.PASSAGES[:2])), 16000, rate)

    class Recorded(FakeEngine):
        def _stream(self, text, voice, options):
            for start in range(0, len(speech), 7919):  # chunks off the slot grid
                yield speech[start : start + 7919]

    engine, marker, store = Recorded(), Watermarker(bytes(range(32))), FakeObjectStore()
    store.put("models/t/v/speaker.pth", b"artifact")
    clock = FakeClock()
    uow = FakeUnitOfWork(clock)
    artifacts = Artifacts(store, engine, vault=fake_vault(store), uow=uow)  # an artifact from before encryption
    speaker = Speaker(uow, artifacts, engine, marker, FakeQuotas(), 1.472, 60, clock)
    voice = VoiceState(str(uuid.uuid4()), "t", "models/t/v/speaker.pth", "fake")
    pieces = list(speaker.marked_segments(voice, "text", SpeechOptions("en", sample_rate=rate), 77))
    assert len(pieces) > 3
    on_grid = np.concatenate(pieces)
    found = marker.detect(on_grid, rate)
    assert found.watermarked and found.generation_id == 77
    cut = len(pieces[0])
    across = marker.detect(on_grid[cut - rate : cut + 2 * rate], rate)
    assert across.watermarked and across.generation_id == 77
    bounds = np.cumsum([0] + [len(p) for p in pieces])
    afresh = np.concatenate([marker.embed(speech[a:b], rate, 77) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    assert marker.detect(afresh, rate, search_scales=False).confidence < found.confidence


def test_a_stream_marked_in_growing_pieces_detects_as_one_mark_from_its_first_seconds():
    """The streamed schedule: the whole slots of the first chunk (2 here), then, while the listener
    has less than a second to play, whatever whole slots each engine chunk completes (here the embedded engine's first
    chunks, made faster than real time with a clock that stands still). The concatenation, its first
    3 s and a 3 s piece across the finely cut start all read as one mark."""
    import uuid

    from cli import samples
    from kit.audio.codec import resample
    from kit.watermark import Watermarker
    from services.synthesis.engine.interface import SpeechOptions
    from services.synthesis.service_layer.artifacts import Artifacts
    from services.synthesis.service_layer.speech import Speaker
    from tests.fakes.clock import FakeClock
    from tests.fakes.data_keys import fake_vault
    from tests.fakes.engine import FakeEngine
    from tests.fakes.storage import FakeObjectStore
    from tests.fakes.synthesis import FakeQuotas, FakeUnitOfWork

    rate = 24000
    speech = resample(samples.espeak(" ".join(samples.PASSAGES[:2])), 16000, rate)

    class LiveChunks(FakeEngine):
        def _stream(self, text, voice, options):
            cuts = np.cumsum([0, 0.14, 0.56, 0.27, 2.23, 1.81, 4.6]) * rate
            for a, b in zip(cuts[:-1], cuts[1:], strict=False):
                yield speech[int(a) : int(b)]
            yield speech[int(cuts[-1]) :]

    engine, marker, store = LiveChunks(), Watermarker(bytes(range(32))), FakeObjectStore()
    store.put("models/t/v/speaker.pth", b"artifact")
    clock = FakeClock()
    uow = FakeUnitOfWork(clock)
    artifacts = Artifacts(store, engine, vault=fake_vault(store), uow=uow)
    speaker = Speaker(uow, artifacts, engine, marker, FakeQuotas(), 1.472, 60, clock)
    voice = VoiceState(str(uuid.uuid4()), "t", "models/t/v/speaker.pth", "fake")
    options = SpeechOptions("en", sample_rate=rate)
    pieces = list(speaker.marked_segments(voice, "text", options, 78, growing=True))
    slots = [len(p) / (SLOT_SECONDS * rate) for p in pieces]
    assert round(slots[0]) == 2 and all(n == int(n) for n in slots[:-1]), slots  # whole slots from the first
    assert len(pieces) <= 8  # a cut per engine chunk at most, and none inside one
    stream = np.concatenate(pieces)
    for name, excerpt in (
        ("whole", stream),
        ("first 3 s", stream[: 3 * rate]),
        ("0.1–3.1 s", stream[2400 : 2400 + 3 * rate]),
    ):
        found = marker.detect(excerpt, rate, search_scales=False)
        assert found.watermarked and found.generation_id == 78, f"{name}: {found}"
