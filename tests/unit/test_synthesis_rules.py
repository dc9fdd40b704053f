"""Pure rules of the synthesis service: voice states, webhook signatures and backoff, streaming
encoders, and marking a stream in segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from kit.audio.codec import decode
from kit.audio.stream_encoder import StreamEncoder
from kit.errors import FailedPrecondition, InvalidArgument
from services.synthesis.domain import webhooks
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
    for name in ("mp3", "wav", "flac", "ogg"):
        assert format_name(format_code(name)) == name
    assert format_name(0) == "mp3"
    with pytest.raises(InvalidArgument):
        format_code("aiff")
    with pytest.raises(InvalidArgument):
        format_name(99)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg"])
def test_streamed_pieces_concatenate_to_one_decodable_file(fmt):
    rate = 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate * 4) / rate)).astype(np.float32)
    encoder = StreamEncoder(fmt, rate)
    pieces = [encoder.encode(tone[i : i + 5000]) for i in range(0, len(tone), 5000)] + [encoder.finish()]
    assert sum(1 for p in pieces if p) > 1  # bytes leave before the end
    clip = decode(b"".join(pieces), target_rate=None)
    assert clip.seconds == pytest.approx(4.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(clip.samples))
    assert np.argmax(spectrum) * clip.sample_rate / len(clip.samples) == pytest.approx(220, abs=2)  # the tone


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
