"""Sample speakers the project can make on any machine: the Piper "joe" voice (a real recorded
speaker) and espeak-ng voices and variants. Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np

from kit.audio.codec import decode, encode, resample
from kit.models import ModelStore

RATE = 16000

PASSAGES = [
    "The quick brown fox jumps over the lazy dog. I like to walk in the park on sunny days with my "
    "friends, and we often stop for coffee at the little shop near the river.",
    "Please call Stella. Ask her to bring these things with her from the store: six spoons of fresh "
    "snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. The "
    "rainbow is a division of white light into many beautiful colors.",
    "Our team met on Tuesday to plan the new project. We agreed to ship the first version in March, "
    "to test it with real customers, and to keep the design simple and clear.",
    "The old lighthouse stood on the rocky cliff for more than a hundred years, guiding ships safely "
    "into the harbour through storms, fog and the long dark nights of winter.",
    "Learning a new language takes patience and practice. Every day I read a short story, write a "
    "few sentences and listen to the radio while I cook dinner.",
]


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
    wav = subprocess.run([binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         capture_output=True, check=True).stdout
    return decode(wav, RATE).samples


def speak(speaker: str, text: str) -> np.ndarray:
    """speaker: "joe" or an espeak-ng voice such as "en-us+f2"."""
    return joe(text) if speaker == "joe" else espeak(text, speaker)


def wav_bytes(samples: np.ndarray, rate: int = RATE, fmt: str = "wav") -> bytes:
    return encode(samples, rate, fmt)
