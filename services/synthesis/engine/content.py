"""What is being said, frame by frame, whoever says it: Whisper base's encoder states.

Aligning a reference with the base voice saying its transcript needs features that match the same
sound across two speakers. Cepstra carry the speaker too, and a misaligned pair teaches the
per-sound corrections (sound_classes.py) the wrong sound; Whisper's encoder, trained to transcribe
any voice, pairs them far better (docs/engine.md). Optional: without the model in the store the
engine aligns on cepstra.
"""

from __future__ import annotations

import numpy as np

from kit.audio.codec import resample
from kit.models import ModelMissing, ModelStore
from kit.models.whisper import load_whisper
from services.synthesis.engine.mel import FRAME_SECONDS, RATE

WHISPER_RATE = 16000
STATES_PER_SECOND = 50
WINDOW = 3000  # feature frames per encoder call (30 s, the encoder's maximum)
MIN_WINDOW = 4


class ContentFeatures:
    def __init__(self, store: ModelStore) -> None:
        self.model = load_whisper(str(store.root))

    @classmethod
    def available(cls, store: ModelStore) -> ContentFeatures | None:
        try:
            return cls(store)
        except ModelMissing:
            return None

    def __call__(self, samples: np.ndarray, frames: int) -> np.ndarray:
        """22.05 kHz speech → (frames, 512) unit rows, one per log-mel frame of that speech,
        standardised over the utterance (so a speaker's constant offset drops out)."""
        features = self.model.feature_extractor(resample(samples, RATE, WHISPER_RATE))
        states = np.concatenate([
            np.asarray(self.model.encode(np.ascontiguousarray(features[:, start:start + WINDOW])))[0]
            for start in range(0, features.shape[1], WINDOW) if features.shape[1] - start >= MIN_WINDOW])
        states = (states - states.mean(axis=0)) / (states.std(axis=0) + 1e-5)
        at = np.minimum(np.round(np.arange(frames) * FRAME_SECONDS * STATES_PER_SECOND).astype(int), len(states) - 1)
        rows = states[at]
        return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9)
