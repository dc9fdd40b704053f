"""Live sessions (SynthesizeLive, the WebSocket's backend) on fakes: text in pieces, one generation."""

from __future__ import annotations

import wave
from io import BytesIO

import pytest

from kit.errors import InvalidArgument
from kit.grpc.auth import Principal, reset_principal, set_principal
from kit.watermark import SLOT_SECONDS
from services.synthesis.engine.text.live import SentenceBuffer
from services.synthesis.grpc_api.servicer import SynthesisServicer
from services.synthesis.service_layer.live import LiveSpeaker, LiveText
from tests.unit import test_synthesis_use_cases as use_cases
from timbre.v1 import common_pb2, synthesis_pb2

CALLER, TENANT = use_cases.CALLER, use_cases.TENANT
world = use_cases.world  # the synthesis use cases' fixture: a ready voice on fakes


def texts(*pieces: str | None):
    """Inputs as a client sends them: None is a flush."""
    return [LiveText(flush=True) if p is None else LiveText(p) for p in pieces]


def open_session(w, inputs, max_characters=200):
    return LiveSpeaker(w.speaker).open(CALLER, w.request(""), max_characters, iter(inputs))


def test_sentences_are_spoken_as_they_complete_as_one_generation(world):
    w = world
    pieces = ["Hello th", "ere. How", " are you", "? Fine"]
    consumed: list[int] = []

    def inputs():
        for piece in pieces:
            consumed.append(len(w.engine.spoken))  # sentences spoken before this piece was read
            yield LiveText(piece)

    generation_id, totals, audio = open_session(w, inputs())
    assert w.quotas.reserved[0][1]["characters"] == 200  # the allowance, reserved at the start
    data = b"".join(audio)
    spoken = [(text, options.realtime) for text, options in w.engine.spoken]
    assert spoken == [("Hello there.", True), ("How are you?", False), ("Fine", False)]
    assert consumed == [0, 0, 1, 1]  # "Hello there." was spoken before "How are you" had arrived
    characters = sum(map(len, pieces))
    assert totals.characters == characters
    assert w.quotas.committed == ["r1"] and w.quotas.committed_characters == {"r1": characters}
    (record,) = w.uow.tables.generations.values()
    assert (record.generation_id, record.kind, record.characters) == (generation_id, "live", characters)
    assert w.uow.event_types() == ["GenerationCompleted", "UsageRecorded"]
    assert data[:4] == b"RIFF" and data.count(b"WAVEfmt ") == 1  # one file for the whole session
    with wave.open(BytesIO(data)) as clip:
        assert clip.getframerate() == 16000 and clip.getsampwidth() == 2
    assert {gid for _, gid, _ in w.marker.calls} == {generation_id}  # one mark, on one grid
    starts = [0]
    for length, _, first_slot in w.marker.calls:
        assert starts[-1] == round(first_slot * SLOT_SECONDS * 16000)
        starts.append(starts[-1] + length)
    assert totals.audio_seconds == pytest.approx(starts[-1] / 16000)


def test_a_flush_speaks_the_unfinished_sentence_at_once_padded_to_whole_slots(world):
    w = world
    _, _, audio = open_session(w, texts("Hi there", None, "and you", None))
    b"".join(audio)
    assert [(t, o.realtime) for t, o in w.engine.spoken] == [("Hi there", True), ("and you", True)]
    slot = SLOT_SECONDS * 16000
    for length, _, _ in w.marker.calls:
        assert abs(length / slot - round(length / slot)) * slot <= 1  # every piece whole slots


def test_text_past_the_allowance_fails_the_session_and_counts_nothing(world):
    w = world
    _, _, audio = open_session(w, texts("One. ", "Two. ", "Three and more. "), max_characters=10)
    with pytest.raises(InvalidArgument) as refused:
        b"".join(audio)
    assert refused.value.reason == "TEXT_TOO_LONG"
    assert w.quotas.released == ["r1"] and w.quotas.committed == []
    assert w.uow.tables.generations == {} and w.uow.event_types() == ["GenerationFailed"]


def test_a_session_that_says_nothing_or_is_left_counts_nothing(world):
    w = world
    _, totals, audio = open_session(w, [])
    assert b"".join(audio) == b"" and totals.characters == 0
    _, _, left = open_session(w, texts("Hello there. ", "More to come"))
    next(left)
    left.close()  # the client went away
    assert w.quotas.released == ["r1", "r2"] and w.quotas.committed == []
    assert w.uow.tables.generations == {} and w.uow.event_types() == []


@pytest.mark.parametrize("allowance", [0, 5001])
def test_the_allowance_is_checked_before_anything_is_reserved(world, allowance):
    with pytest.raises(InvalidArgument):
        open_session(world, [], max_characters=allowance)
    assert world.quotas.reserved == []


def test_the_rpc_opens_with_the_voice_and_ends_with_the_totals(world):
    w = world
    servicer = SynthesisServicer(w.speaker, w.jobs, w.webhooks)
    options = synthesis_pb2.SpeechOptions(language="en", format=common_pb2.AUDIO_FORMAT_PCM_16000)
    messages = [
        synthesis_pb2.SynthesizeLiveRequest(voice_id=w.voice_id, options=options, max_characters=100, text="Hi. "),
        synthesis_pb2.SynthesizeLiveRequest(text="Bye."),
    ]
    token = set_principal(Principal("key-1", "tenant", TENANT, "key-1", common_pb2.TIER_PRO))
    try:
        replies = list(servicer.SynthesizeLive(iter(messages), None))
    finally:
        reset_principal(token)
    *audio, last = replies
    assert audio and all(r.audio for r in audio) and [r.sequence for r in replies] == list(range(len(replies)))
    assert last.last and last.characters == 8 and last.audio_seconds > 0
    pcm = b"".join(r.audio for r in audio)
    assert len(pcm) == round(last.audio_seconds * 16000) * 2  # headerless 16-bit at the format's rate


@pytest.mark.parametrize(
    "language, pieces, released, rest",
    [
        ("en", ["It costs 3", ".5 dollars. And"], ["It costs 3.5 dollars."], "And"),
        ("en", ["Wait", "!", " What?\n", "Ok"], ["Wait! What?"], "Ok"),
        ("th", ["สวัสดีครับ\n", "วันนี้"], ["สวัสดีครับ"], "วันนี้"),
        ("th", ["ก" * 60 + " ", "ข" * 61 + " ค"], ["ก" * 60 + " " + "ข" * 61], "ค"),
    ],
)
def test_a_sentence_is_released_once_it_has_ended(language, pieces, released, rest):
    buffer = SentenceBuffer(language)
    out = [sentence for piece in pieces for sentence in buffer.add(piece)]
    assert out == released and buffer.flush() == rest


def test_a_live_session_carries_one_mark_across_its_sentences_and_flushes():
    """With the real mark: speech that arrives as three sentences, the second flushed mid-way, reads
    as one generation over the whole session and in a 3 s piece across a sentence's seam."""
    import uuid
    from datetime import timedelta

    import numpy as np

    from cli import samples
    from kit.audio.codec import resample
    from kit.watermark import Watermarker
    from services.synthesis.domain.voices import VoiceState
    from services.synthesis.service_layer.artifacts import Artifacts
    from services.synthesis.service_layer.speech import Speaker, SpeechRequest
    from tests.fakes.clock import FakeClock
    from tests.fakes.data_keys import fake_vault
    from tests.fakes.engine import FakeEngine
    from tests.fakes.storage import FakeObjectStore
    from tests.fakes.synthesis import FakeQuotas, FakeUnitOfWork

    rate = 24000
    speech = {t: resample(samples.espeak(t), 16000, rate) for t in samples.PASSAGES[:3]}

    class Espeak(FakeEngine):
        native_rate = rate

        def _stream(self, text, voice, options):
            audio = speech.get(text, np.zeros(rate // 2, np.float32))
            yield from (audio[i : i + 7000] for i in range(0, len(audio), 7000))

    engine, marker, store, clock = Espeak(), Watermarker(bytes(range(32))), FakeObjectStore(), FakeClock()
    store.put("models/t/v/speaker.pth", b"artifact")
    uow = FakeUnitOfWork(clock)
    speaker = Speaker(
        uow, Artifacts(store, engine, vault=fake_vault(store), uow=uow), engine, marker, FakeQuotas(), 1.472, 60, clock
    )
    voice = VoiceState(
        str(uuid.uuid4()),
        TENANT,
        "models/t/v/speaker.pth",
        "fake",
        consent_id="consent-1",
        consent_expires_at=clock.now() + timedelta(days=1),
    )
    uow.joined().save_voice(voice)
    inputs = [
        LiveText(samples.PASSAGES[0] + " "),
        LiveText(samples.PASSAGES[1], flush=True),
        LiveText(samples.PASSAGES[2]),
    ]
    request = SpeechRequest(voice.voice_id, "", language="en", format="pcm_24000")
    generation_id, _, audio = LiveSpeaker(speaker).open(CALLER, request, 5000, iter(inputs))
    pcm = np.frombuffer(b"".join(audio), "<i2").astype(np.float32) / 32768
    found = marker.detect(pcm, rate)
    assert found.watermarked and found.generation_id == generation_id
    seam = len(speech[samples.PASSAGES[0]])
    across = marker.detect(pcm[seam - rate : seam + 2 * rate], rate)
    assert across.watermarked and across.generation_id == generation_id
