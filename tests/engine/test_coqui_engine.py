"""Coqui loaders: small models with random weights, saved in the store layout, load and speak
through the same engine interface; absent weights name what to place where."""

import io

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
    assert len(chunks) == 2 and all(len(c) > 0 and np.isfinite(c).all() for c in chunks)
    with pytest.raises(InvalidArgument):  # XTTS-v2 has no Thai
        engine.synthesize("สวัสดี", voice, SpeechOptions(language="th"))
    with pytest.raises(InvalidArgument):  # and no voice of its own
        list(engine.synthesize("hello", None, SpeechOptions(language="en")))


def test_one_model_copy_per_worker(store):
    assert CoquiEngine("xtts_v2", store, on="cpu").model is CoquiEngine("xtts_v2", store, on="cpu").model


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
