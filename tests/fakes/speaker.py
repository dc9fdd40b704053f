"""Stand-ins for the speaker models: an encoder that maps a tone's pitch to a fixed vector, voice
activity from loudness, a watermark detector and a phrase recogniser that answer what the test sets.

Test "speakers" are tones in bursts (sound, then a pause: the pauses give the quality checks a noise
floor); a speaker is its pitch: `tone_bursts(200)` and `tone_bursts(200, seed=1)` are the same speaker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.audio.vad import FRAME, SpeechMap
from services.embedding.encoders.base import SAMPLE_RATE, SpeakerEncoder

DIM = 8
PITCH_STEP = 100  # Hz per embedding dimension


def tone_bursts(pitch: float, seconds: float = 6.0, rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """0.4 s of tone, 0.1 s of near silence, repeated; a little noise so no two takes are identical."""
    t = np.arange(int(seconds * rate)) / rate
    on = (t % 0.5) < 0.4
    noise = np.random.default_rng(seed).normal(0, 1e-4, len(t))
    return (0.4 * np.sin(2 * np.pi * pitch * t) * on + noise).astype(np.float32)


class PitchEncoder(SpeakerEncoder):
    """The embedding of a tone is the unit vector of its pitch's bucket: same pitch, cosine 1; else 0."""

    name = "fake-pitch"
    dim = DIM

    def _embed_segment(self, samples: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(samples))
        pitch = float(np.argmax(spectrum)) * SAMPLE_RATE / len(samples)
        vector = np.zeros(DIM, np.float32)
        vector[int(round(pitch / PITCH_STEP)) % DIM] = 1.0
        return vector


class LoudnessActivity:
    """Speech wherever a frame is audible."""

    def analyse(self, samples: np.ndarray) -> SpeechMap:
        count = len(samples) // FRAME
        frames = samples[: count * FRAME].reshape(count, FRAME)
        return SpeechMap((np.sqrt(np.mean(frames**2, axis=1)) > 0.01).astype(np.float32), 0.5)


@dataclass(frozen=True)
class Verdict:
    watermarked: bool


class FakeWatermarkDetector:
    def __init__(self, marked: bool = False) -> None:
        self.marked = marked
        self.checked = 0

    def detect(self, samples: np.ndarray, sample_rate: int) -> Verdict:
        self.checked += 1
        return Verdict(self.marked)


class FakeRecogniser:
    """Hears `words` (set by the test, e.g. the challenge's phrase)."""

    def __init__(self) -> None:
        self.words: list[str] = []

    def __call__(
        self, samples_16k: np.ndarray, prefix: list[str], vocabulary: tuple[str, ...], slots: int
    ) -> list[str]:
        return self.words[:slots]
