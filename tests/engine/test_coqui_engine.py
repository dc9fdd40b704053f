"""Coqui loaders: small models with random weights, saved in the store layout, load and speak
through the same engine interface; absent weights name what to place where."""

import io
import threading
import time
from collections.abc import Generator

import numpy as np
import pytest
import torch

from kit.errors import InvalidArgument
from kit.models import ModelStore
from kit.models.store import ModelMissing
from services.synthesis.engine.coqui import REQUIRED_FILES, CoquiEngine
from services.synthesis.engine.factory import make_engine
from services.synthesis.engine.interface import SpeechOptions
from tests.engine.coqui_builders import build_vits, build_xtts


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("store")
    build_xtts(root / "xtts_v2")
    build_vits(root / "vits")
    return ModelStore(root)


def test_xtts_clones_from_reference_latents_and_speaks_in_sentences(store):
    engine = CoquiEngine("xtts_v2", store, on="cpu")
    rng = np.random.default_rng(0)
    voice = engine.build_voice([rng.normal(0, 0.1, 16000 * 4).astype(np.float32)])
    state = torch.load(io.BytesIO(voice), weights_only=True)
    assert state["speaker_embedding"].shape[-2] == 512 and state["gpt_cond_latent"].ndim == 3
    chunks = list(
        engine.synthesize("Hello world. This is a test.", voice, SpeechOptions(language="en", sample_rate=16000))
    )
    assert len(chunks) >= 2 and all(len(c) > 0 and np.isfinite(c).all() for c in chunks)
    with pytest.raises(InvalidArgument):  # XTTS-v2 has no Thai
        engine.synthesize("สวัสดี", voice, SpeechOptions(language="th"))
    with pytest.raises(InvalidArgument):  # and no voice of its own
        list(engine.synthesize("hello", None, SpeechOptions(language="en")))


@pytest.fixture(scope="module")
def xtts_voice(store):
    rng = np.random.default_rng(1)
    return CoquiEngine("xtts_v2", store, on="cpu").build_voice([rng.normal(0, 0.1, 16000 * 3).astype(np.float32)])


def test_xtts_streams_a_sentence_in_chunks_that_add_up_to_the_whole(store, xtts_voice):
    # Native rate (24 kHz): nothing is resampled, so the samples are the model's own.
    options = SpeechOptions(language="en")
    streamed = CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=8, greedy=True)
    chunks, generating_at_first = [], None
    for chunk in streamed.synthesize("Hello world.", xtts_voice, options):
        if generating_at_first is None:  # the sentence is still being generated when its first audio arrives
            generating_at_first = streamed.lock.locked()
        chunks.append(chunk)
    # The same tokens (greedy) decoded in one piece, when the sentence has ended.
    [whole] = CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=0, greedy=True).synthesize(
        "Hello world.", xtts_voice, options
    )
    assert len(chunks) > 1 and generating_at_first
    assert sum(len(c) for c in chunks) == len(np.concatenate(chunks)) == len(whole)
    assert len(chunks[0]) < len(whole) / 3 and np.isfinite(np.concatenate(chunks)).all()


def test_a_pitch_shift_speaks_whole_sentences(store, xtts_voice):
    # Shifting streamed chunks one by one would click at the seams: a pitched sentence comes whole.
    engine = CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=8, greedy=True)
    chunks = list(engine.synthesize("Hello world.", xtts_voice, SpeechOptions(language="en", pitch=12.0)))
    assert len(chunks) == 1 and len(chunks[0]) > 8 * 1000


def test_a_stream_closed_early_releases_the_model(store, xtts_voice):
    engine = CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=8, greedy=True)
    stream = engine.synthesize("Hello world.", xtts_voice, SpeechOptions(language="en"))
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()  # a client that went away: the sentence's generation stops at its next chunk
    deadline = time.monotonic() + 30
    while engine.lock.locked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not engine.lock.locked()


def test_concurrent_requests_take_turns_on_one_model_copy(store, xtts_voice, monkeypatch):
    engine = CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=20, greedy=True)
    options = SpeechOptions(language="en")
    # Prompts of different lengths: interleaved on one copy, each would read the other's stored prompt.
    texts = ["Hello world.", "The quick brown fox jumps over the lazy dog."]
    serial = [np.concatenate(list(engine.synthesize(t, xtts_voice, options))) for t in texts]

    original, inside, most = engine.model.inference_stream, [0], [0]

    def instrumented(*args, **kwargs):
        assert engine.lock.locked()
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        try:
            yield from original(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(engine.model, "inference_stream", instrumented)
    start, spans = threading.Barrier(2), [(0.0, 0.0)] * 2
    outputs: list[np.ndarray | None] = [None, None]
    errors: list[Exception] = []

    def speak(i: int) -> None:
        try:
            start.wait()
            began = time.monotonic()
            outputs[i] = np.concatenate(list(engine.synthesize(texts[i], xtts_voice, options)))
            spans[i] = (began, time.monotonic())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # the two requests did run at once
    assert most[0] == 1  # ... yet never two generations on the copy at the same time
    for got, want in zip(outputs, serial, strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_stream_chunk_size_comes_from_the_environment(store, monkeypatch):
    monkeypatch.setenv("TIMBRE_XTTS_STREAM_CHUNK_SIZE", "7")
    assert CoquiEngine("xtts_v2", store, on="cpu").stream_chunk_size == 7
    assert CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=3).stream_chunk_size == 3
    monkeypatch.delenv("TIMBRE_XTTS_STREAM_CHUNK_SIZE")
    assert CoquiEngine("xtts_v2", store, on="cpu").stream_chunk_size == 20
    with pytest.raises(InvalidArgument):
        CoquiEngine("xtts_v2", store, on="cpu", stream_chunk_size=-1)


def test_one_model_copy_per_worker(store):
    first, second = CoquiEngine("xtts_v2", store, on="cpu"), CoquiEngine("xtts_v2", store, on="cpu")
    assert first.model is second.model and first.lock is second.lock
    assert CoquiEngine("vits", store, on="cpu").lock is not first.lock


def test_vits_speaks_with_its_own_voice_and_a_reference_artifact(store):
    engine = CoquiEngine("vits", store, on="cpu")
    assert engine.native_rate == 22050
    plain = list(engine.synthesize("Hello there. Bye.", None, SpeechOptions(language="en")))
    assert len(plain) == 2 and all(len(c) > 1000 for c in plain)
    voice = engine.build_voice([np.zeros(16000 * 40, np.float32)])
    state = torch.load(io.BytesIO(voice), weights_only=True)
    assert len(state["reference"]) == 16000 * 30  # capped at 30 s
    with pytest.raises(InvalidArgument):  # an XTTS artifact is not a VITS voice
        list(
            engine.synthesize(
                "hi",
                CoquiEngine("xtts_v2", store, on="cpu").build_voice([np.zeros(16000 * 3, np.float32)]),
                SpeechOptions(language="en"),
            )
        )


@pytest.mark.parametrize("model", sorted(REQUIRED_FILES))
def test_missing_weights_name_what_to_place_where(tmp_path, model):
    with pytest.raises(ModelMissing) as caught:
        CoquiEngine(model, ModelStore(tmp_path))
    message = str(caught.value)
    assert str(tmp_path / model) in message
    assert all(name in message for name in REQUIRED_FILES[model])
    assert caught.value.reason == "MODEL_MISSING"


def test_engine_choice_from_the_environment(store, monkeypatch):
    monkeypatch.setenv("TIMBRE_ENGINE", "coqui:vits")
    assert make_engine(store=store).name == "coqui-vits"
    with pytest.raises(InvalidArgument):
        make_engine("whisper")
