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
from services.synthesis.domain.generations import format_code, format_name
from services.synthesis.domain.voices import VoiceState

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def state(**changes) -> VoiceState:
    values = {
        "voice_id": "v",
        "tenant_id": "t",
        "status": "ready",
        "artifact_key": "k",
        "engine": "embedded",
        "consent_id": "c",
        "consent_expires_at": NOW + timedelta(days=1),
    }
    return VoiceState(**{**values, **changes})


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"status": "building"}, "VOICE_NOT_READY"),
        ({"status": "failed", "failure_detail": "MODEL_MISSING"}, "VOICE_NOT_READY"),
        ({"status": "disabled"}, "CONSENT_REQUIRED"),
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


def test_segments_marked_on_one_slot_grid_detect_over_the_whole_stream():
    """What Speaker.marked_segments relies on: pieces cut at slot boundaries and marked from their
    place in the block read as one mark, also in a 3 s piece across a cut; pieces that each start
    the block afresh do not."""
    from cli import samples
    from kit.audio.codec import resample
    from kit.watermark import SLOT_SECONDS, Watermarker

    rate = 22050
    speech = resample(samples.espeak(" ".join(samples.PASSAGES[:2])), 16000, rate)
    marker = Watermarker(bytes(range(32)))
    slot = SLOT_SECONDS * rate
    starts = list(range(0, int(len(speech) / slot), 23))  # 1.47 s pieces: not whole blocks
    cuts = [round(k * slot) for k in starts[1:]] + [len(speech)]
    pieces = list(zip(starts, [0] + cuts[:-1], cuts, strict=False))
    on_grid = np.concatenate([marker.embed(speech[a:b], rate, 77, first_slot=k) for k, a, b in pieces])
    found = marker.detect(on_grid, rate)
    assert found.watermarked and found.generation_id == 77
    across = marker.detect(on_grid[cuts[1] - rate : cuts[1] + 2 * rate], rate)
    assert across.watermarked and across.generation_id == 77
    afresh = np.concatenate([marker.embed(speech[a:b], rate, 77) for _, a, b in pieces])
    assert marker.detect(afresh, rate, search_speed=False).confidence < found.confidence
