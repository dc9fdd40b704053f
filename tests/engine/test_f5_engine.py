"""F5-TTS engine: a tiny random-weight model in the store layout builds voices (transcript given or
heard), speaks Thai and English as a stream whose first piece is short, and round-trips its
artifact; a missing model or licence is a clear error naming what to place where."""

import io
import json

import numpy as np
import pytest
import torch

from kit.errors import FailedPrecondition, InvalidArgument
from kit.models import ModelMissing, ModelStore
from services.synthesis.engine.f5 import F5Engine, F5Voice
from services.synthesis.engine.f5_model import CHECKPOINTS, REQUIRED_FILES
from services.synthesis.engine.f5_text import FIRST_PIECE_CHARS, pieces, units
from services.synthesis.engine.f5_transcript import WhisperTranscriber
from services.synthesis.engine.factory import make_engine
from services.synthesis.engine.interface import SpeechOptions
from tests.engine.f5_builders import build_f5

THAI_TRANSCRIPT = "สวัสดีครับ ผมชื่อทิม วันนี้อากาศดีมาก"
THAI_TEXT = (
    "วันนี้เราจะไปเที่ยวทะเลกันนะครับ แล้วก็จะกินอาหารทะเลอร่อยๆ ที่ร้านริมหาด "
    "พรุ่งนี้เช้าเราจะตื่นแต่เช้าเพื่อดูพระอาทิตย์ขึ้น แล้วค่อยเดินทางกลับบ้านตอนบ่าย\nขอบคุณมากครับ"
)
ENGLISH_TEXT = "Hello there, this is a longer first sentence that runs on for a while. Then a second one. Bye."


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, int(16000 * seconds)).astype(np.float32)


class FakeTranscriber:
    def __init__(self, text: str | None) -> None:
        self.text = text
        self.heard: list[int] = []

    def __call__(self, samples: np.ndarray) -> str | None:
        self.heard.append(len(samples))
        return self.text


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("store")
    build_f5(root / "f5" / "thai")
    return ModelStore(root)


@pytest.fixture(scope="module")
def engine(store):
    return F5Engine("thai", store, on="cpu", steps=4)


@pytest.fixture(scope="module")
def thai_voice(engine):
    return engine.build_voice([speech(2), speech(1, seed=1)], THAI_TRANSCRIPT)


def test_missing_model_names_what_to_place_where(tmp_path, monkeypatch):
    for attempt in (
        lambda: F5Engine("thai", ModelStore(tmp_path)),
        lambda: make_engine("f5:thai", ModelStore(tmp_path)),
    ):
        with pytest.raises(ModelMissing) as caught:
            attempt()
        message = str(caught.value)
        assert str(tmp_path / "f5" / "thai") in message and "MODEL.json" in message
        assert all(name in message for name in (*CHECKPOINTS, *REQUIRED_FILES))
        assert caught.value.reason == "MODEL_MISSING"
    monkeypatch.setenv("TIMBRE_ENGINE", "f5:thai")
    monkeypatch.setenv("TIMBRE_MODEL_PATH", str(tmp_path))
    with pytest.raises(ModelMissing, match="f5/thai"):
        make_engine()
    with pytest.raises(InvalidArgument, match="f5:<model>"):
        make_engine("f6:thai")
    with pytest.raises(InvalidArgument):  # no path out of the store
        make_engine("f5:../thai", ModelStore(tmp_path))


def test_partly_placed_model_names_only_what_is_missing(tmp_path):
    build_f5(tmp_path / "f5" / "thai")
    (tmp_path / "f5" / "thai" / "vocos" / "pytorch_model.bin").unlink()
    with pytest.raises(ModelMissing) as caught:
        F5Engine("thai", ModelStore(tmp_path), on="cpu")
    assert "missing vocos/pytorch_model.bin;" in str(caught.value)


def test_a_config_that_does_not_fit_the_checkpoint_is_named(tmp_path):
    folder = build_f5(tmp_path / "f5" / "thai")
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("depth: 2", "depth: 3"))
    with pytest.raises(FailedPrecondition, match="does not fit .*config.yaml"):
        F5Engine("thai", ModelStore(tmp_path), on="cpu")


@pytest.mark.parametrize("record", [None, "", "   ", "not json"])
def test_weights_without_a_stated_licence_are_refused(tmp_path, record):
    folder = build_f5(tmp_path / "f5" / "thai", licence=None)
    if record is not None:
        text = record if record == "not json" else json.dumps({"licence": record, "source": "somewhere"})
        (folder / "MODEL.json").write_text(text)
    with pytest.raises(ModelMissing) as caught:
        F5Engine("thai", ModelStore(tmp_path), on="cpu")
    assert str(folder / "MODEL.json") in str(caught.value) and '"licence"' in str(caught.value)


def test_engine_chosen_by_environment_records_its_licence(store, monkeypatch):
    monkeypatch.setenv("TIMBRE_ENGINE", "f5:thai")
    engine = make_engine(store=store)
    assert isinstance(engine, F5Engine) and engine.name == "f5-thai" and engine.native_rate == 24000
    assert engine.licence == "MIT (random test weights)"


def test_one_model_copy_per_worker(store, engine):
    assert F5Engine("thai", store, on="cpu").model is engine.model


def test_safetensors_checkpoint_loads(tmp_path):
    build_f5(tmp_path / "f5" / "tiny", checkpoint="model.safetensors", seed=1)
    engine = F5Engine("tiny", ModelStore(tmp_path), on="cpu", steps=2)
    voice = engine.build_voice([speech(2)], "hello there")
    assert len(list(engine.synthesize("Hi.", voice, SpeechOptions(language="en")))) == 1


def test_first_piece_is_short_then_sentence_by_sentence():
    english = pieces(ENGLISH_TEXT, "en")
    assert len(english[0]) <= FIRST_PIECE_CHARS < len(english[1])
    assert english[0] == "Hello there,"
    assert english[2:] == ["Then a second one.", "Bye."]
    assert " ".join(english) == ENGLISH_TEXT
    thai = pieces(THAI_TEXT, "th")
    assert len(thai) >= 3 and len(thai[0]) <= FIRST_PIECE_CHARS < len(thai[-1])
    assert "".join(thai).replace(" ", "") == THAI_TEXT.replace(" ", "").replace("\n", "")
    assert pieces("Short one. Two.", "en") == ["Short one.", "Two."]  # a short first sentence stays whole
    assert units("ที่") == 1 and units("abc") == 3  # marks above and below a letter take no time


def test_builds_with_a_given_transcript_and_speaks_thai_in_pieces(engine, thai_voice):
    state = torch.load(io.BytesIO(thai_voice), weights_only=True)
    assert state["transcript"] == THAI_TRANSCRIPT and state["transcript_source"] == "given"
    assert state["reference"].dtype == torch.int16 and len(state["reference"]) == 16000 * 3
    chunks = list(engine.synthesize(THAI_TEXT, thai_voice, SpeechOptions(language="th")))
    texts = pieces(THAI_TEXT, "th")
    assert len(chunks) == len(texts) >= 3
    assert all(c.dtype == np.float32 and c.ndim == 1 and np.isfinite(c).all() for c in chunks)
    assert len(chunks[0]) < len(chunks[-1])  # the short first piece comes first
    # each piece lasts as long as the reference takes per unit of its transcript
    per_unit = 3.0 / units(THAI_TRANSCRIPT + ".")
    for text, chunk in zip(texts, chunks, strict=True):
        assert len(chunk) / 24000 == pytest.approx(per_unit * units(text), rel=0.1, abs=0.05)


def test_speaks_english_with_rate_and_speed_options(engine, thai_voice):
    native = list(engine.synthesize(ENGLISH_TEXT, thai_voice, SpeechOptions(language="en")))
    at_16k = list(engine.synthesize(ENGLISH_TEXT, thai_voice, SpeechOptions(language="en", sample_rate=16000)))
    faster = list(engine.synthesize(ENGLISH_TEXT, thai_voice, SpeechOptions(language="en", speed=2.0)))
    assert len(native) == len(at_16k) == len(faster) == 4
    total = sum(map(len, native))
    assert sum(map(len, at_16k)) == pytest.approx(total * 16000 / 24000, rel=0.01)
    assert sum(map(len, faster)) == pytest.approx(total / 2, rel=0.05)
    pitched = list(engine.synthesize("Hi there.", thai_voice, SpeechOptions(language="en", pitch=2.0)))
    assert len(pitched) == 1 and np.isfinite(pitched[0]).all()


def test_artifact_round_trips_through_load_voice(engine, thai_voice):
    voice = engine.load_voice(thai_voice)
    assert isinstance(voice, F5Voice) and voice.prompt == THAI_TRANSCRIPT + ". "
    assert voice.mel.shape[0] == 1 and voice.mel.shape[2] == 100 and voice.seconds == pytest.approx(3.0)
    assert voice.gain == pytest.approx(0.1 / 0.05, rel=0.05)  # a quiet reference is raised to F5's level
    chunks = list(engine.synthesize("สวัสดีครับ", voice, SpeechOptions(language="th")))
    assert len(chunks) == 1 and len(chunks[0]) > 0
    with pytest.raises(InvalidArgument):  # speaking needs a voice, and says so before any work
        engine.synthesize("สวัสดี", None, SpeechOptions(language="th"))
    with pytest.raises(InvalidArgument, match="not built for f5-thai"):
        engine.load_voice(torch_artifact({"kind": "timbre-coqui-v1", "model": "vits"}))


def test_transcript_heard_when_not_given(store):
    heard = FakeTranscriber("hello, this is my voice")
    engine = F5Engine("thai", store, on="cpu", steps=2, transcriber=heard)
    state = torch.load(io.BytesIO(engine.build_voice([speech(4)])), weights_only=True)
    assert state["transcript"] == "hello, this is my voice" and state["transcript_source"] == "heard"
    assert heard.heard == [16000 * 4]
    with pytest.raises(InvalidArgument, match="give the words"):
        F5Engine("thai", store, on="cpu", transcriber=FakeTranscriber(None)).build_voice([speech(4)])


def test_long_reference_is_cut_in_a_pause_and_the_cut_heard(store):
    heard = FakeTranscriber("what the first twelve seconds say")
    engine = F5Engine("thai", store, on="cpu", transcriber=heard)
    reference = speech(20)
    reference[16000 * 12 : 16000 * 12 + 800] = 0  # a 50 ms pause at 12 s
    state = torch.load(io.BytesIO(engine.build_voice([reference], "the whole twenty seconds")), weights_only=True)
    assert 16000 * 12 <= len(state["reference"]) <= 16000 * 12 + 800
    assert state["transcript"] == "what the first twelve seconds say" and state["transcript_source"] == "heard"


def test_whisper_from_the_store_names_its_fetch_when_missing(tmp_path, store):
    engine = F5Engine("thai", store, on="cpu")
    assert isinstance(engine.transcriber, WhisperTranscriber)
    engine.transcriber.store = ModelStore(tmp_path)  # a store without Whisper
    with pytest.raises(ModelMissing, match="timbre models fetch whisper_base"):
        engine.build_voice([speech(3)])


def torch_artifact(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
