"""Voice activity with Silero VAD (ONNX, from the model store), run with onnxruntime on 16 kHz audio.

Frames are 512 samples (32 ms); the model keeps a recurrent state and 64 samples of context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.models.onnx import cpu_session

FRAME = 512
CONTEXT = 64
RATE = 16000


@dataclass(frozen=True)
class SpeechMap:
    probabilities: np.ndarray  # one per 32 ms frame
    threshold: float

    @property
    def speech_frames(self) -> np.ndarray:
        """Boolean per frame, with a 3-frame hangover so short dips inside words count as speech."""
        active = self.probabilities >= self.threshold
        smoothed = active.copy()
        for shift in (1, 2, 3):
            smoothed[shift:] |= active[:-shift]
        return smoothed

    @property
    def speech_seconds(self) -> float:
        return float(self.speech_frames.sum()) * FRAME / RATE

    def speech_samples(self, samples: np.ndarray) -> np.ndarray:
        """The samples of speech frames only, concatenated."""
        mask = np.repeat(self.speech_frames, FRAME)[: len(samples)]
        return samples[: len(mask)][mask]


class SileroVad:
    def __init__(self, model: Path, threshold: float = 0.5) -> None:
        self.session = cpu_session(model)
        self.threshold = threshold

    def analyse(self, samples: np.ndarray) -> SpeechMap:
        """Speech probability per frame of 16 kHz mono samples."""
        count = len(samples) // FRAME
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, CONTEXT), np.float32)
        rate = np.array(RATE, dtype=np.int64)
        probabilities = np.empty(count, np.float32)
        frames = samples[: count * FRAME].astype(np.float32).reshape(count, FRAME)
        for index in range(count):
            chunk = np.concatenate([context, frames[index : index + 1]], axis=1)
            out, state = self.session.run(None, {"input": chunk, "state": state, "sr": rate})
            probabilities[index] = out[0, 0]
            context = chunk[:, -CONTEXT:]
        return SpeechMap(probabilities, self.threshold)
