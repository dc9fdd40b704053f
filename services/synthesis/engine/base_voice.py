"""Base voices: the speech that per-voice conversion starts from, at the vocoder's 22.05 kHz.

English is spoken by the Piper "joe" VITS voice (natural, one recorded speaker); Thai and every
other language by espeak-ng (formant synthesis, rough but intelligible). Each clone carries one
conversion per base voice, so both languages come out in the cloned voice.
"""

from __future__ import annotations

import functools
import subprocess
from abc import ABC, abstractmethod

import numpy as np

from kit.audio.codec import decode, resample
from kit.models import ModelStore
from services.synthesis.engine.mel import RATE
from services.synthesis.engine.phonemize import espeak_binary

ESPEAK_VOICES = {"th": "th", "en": "en-us"}
ESPEAK_WORDS_PER_MINUTE = 165
ESPEAK_RATES = (80, 450)  # what espeak-ng accepts; beyond, it clamps (so a big pitch move also speeds Thai up)


class BaseVoice(ABC):
    name: str

    @abstractmethod
    def speak(self, text: str, speed: float = 1.0) -> np.ndarray:
        """One chunk of normalised text → float32 samples at 22.05 kHz."""

    def speak_at_pitch(self, text: str, speed: float = 1.0, pitch_ratio: float = 1.0) -> np.ndarray:
        """Speech with its pitch (and, with it, its formants) scaled by `pitch_ratio`: the voice speaks
        `pitch_ratio` times slower and is played back that much faster. Exact, artefact-free pitch
        moves, unlike shifting harmonics in a spectrogram; the formant move is undone later on the
        spectral envelope (conversion.Conversion)."""
        audio = self.speak(text, speed / pitch_ratio)
        if abs(pitch_ratio - 1.0) < 1e-3:
            return audio
        return resample(audio, round(RATE * pitch_ratio), RATE)


class PiperBase(BaseVoice):
    def __init__(self, store: ModelStore, voice: str = "joe") -> None:
        from services.synthesis.engine.piper import PiperVoice

        self.name = f"piper-{voice}"
        self.voice = PiperVoice(store.require(f"piper/{voice}"))

    def speak(self, text: str, speed: float = 1.0) -> np.ndarray:
        audio = self.voice.speak(text, length_scale=self.voice.config.length_scale / speed)
        return resample(audio, self.voice.sample_rate, RATE)


class EspeakBase(BaseVoice):
    name = "espeak"

    def __init__(self, language: str) -> None:
        self.voice = ESPEAK_VOICES.get(language, language)

    def speak(self, text: str, speed: float = 1.0) -> np.ndarray:
        wav = subprocess.run(
            [
                espeak_binary(),
                "-v",
                self.voice,
                "-s",
                str(int(np.clip(ESPEAK_WORDS_PER_MINUTE * speed, *ESPEAK_RATES))),
                "--stdout",
                text,
            ],
            capture_output=True,
            check=True,
        ).stdout
        return decode(wav, RATE).samples


@functools.lru_cache(maxsize=8)
def base_voice(language: str, store_root: str | None = None) -> BaseVoice:
    """English → Piper joe; any other language → espeak-ng in that language."""
    if language == "en":
        return PiperBase(ModelStore(store_root))
    return EspeakBase(language)


def base_name(language: str) -> str:
    return "piper-joe" if language == "en" else "espeak"
