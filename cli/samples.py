"""Sample speakers the project can make on any machine: the Piper "joe" voice (a real recorded
speaker) and espeak-ng voices and variants. Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np

from kit.audio.codec import decode, encode, resample
from kit.models import ModelStore
from kit.models.onnx import cpu_session
from services.synthesis.engine.base_corpus import PASSAGES

RATE = 16000
__all__ = ["PASSAGES", "RATE", "espeak", "joe", "kokoro", "speak", "wav_bytes"]


@functools.lru_cache(maxsize=1)
def _joe():
    from services.synthesis.engine.piper import PiperVoice

    return PiperVoice(ModelStore().require("piper/joe"))


def joe(text: str) -> np.ndarray:
    """The Piper en_US joe voice, 16 kHz float32."""
    voice = _joe()
    return resample(voice.speak(text), voice.sample_rate, RATE)


def espeak(text: str, voice: str = "en-us+m3", speed: int = 160, pitch: int = 50) -> np.ndarray:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    wav = subprocess.run(
        [binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text], capture_output=True, check=True
    ).stdout
    return decode(wav, RATE).samples


def speak(speaker: str, text: str) -> np.ndarray:
    """speaker: "joe", "kokoro:<voice>" or an espeak-ng voice such as "en-us+f2"."""
    if speaker == "joe":
        return joe(text)
    if speaker.startswith("kokoro:"):
        return kokoro(text, speaker.split(":", 1)[1])
    return espeak(text, speaker)


def wav_bytes(samples: np.ndarray, rate: int = RATE, fmt: str = "wav") -> bytes:
    return encode(samples, rate, fmt)


KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_RATE = 24000


@functools.lru_cache(maxsize=1)
def _kokoro():
    """Kokoro-82M (int8 ONNX, Apache-2.0) from the model store: the four parts joined once, checked."""
    import json

    store = ModelStore()
    voices_dir = store.require("kokoro/voices")
    model = store.joined(
        store.root / "kokoro" / "kokoro-v1.0.int8.onnx",
        [store.require(f"kokoro/part{n}") / "part.bin" for n in range(1, 5)],
        sha256=(voices_dir / "model.sha256").read_text().split()[0],
    )
    session = cpu_session(model)
    vocab = json.loads((voices_dir / "vocab.json").read_text())["vocab"]
    packs = dict(np.load(voices_dir / "voices_ja.npz"))
    return session, vocab, packs


def kokoro(text: str, voice: str = "jf_alpha") -> np.ndarray:
    """A Kokoro voice speaking English from espeak-ng IPA (accented: its packs are Japanese), 16 kHz."""
    from services.synthesis.engine.phonemize import phonemize

    session, vocab, packs = _kokoro()
    pieces = []
    for clause in phonemize(text, "en-us"):
        tokens = [vocab[c] for c in clause if c in vocab][:500]
        if not tokens:
            continue
        style = packs[voice][min(len(tokens), len(packs[voice])) - 1].reshape(1, 256).astype(np.float32)
        audio = session.run(
            None,
            {"tokens": np.array([[0, *tokens, 0]], np.int64), "style": style, "speed": np.array([1.0], np.float32)},
        )[0]
        pieces.append(np.asarray(audio, np.float32).reshape(-1))
        if clause[-1:] in ".!?":
            pieces.append(np.zeros(int(0.25 * KOKORO_RATE), np.float32))
    return resample(np.concatenate(pieces), KOKORO_RATE, RATE)
