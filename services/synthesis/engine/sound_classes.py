"""Sound classes: the part of a voice's difference from the base voice that depends on the sound.

The linear map (conversion.py) moves every frame the same way, so what differs per sound (how this
speaker says "ee" against "sh") averages out. Here the base voice's frames are clustered by what is
being said (speaker-normalised cepstra with ±2 frames of context; same speaker, so the clusters are
sounds, not voices), and each class learns the mean of what the linear map still misses on the
reference's aligned frames. At synthesis each base frame gets the soft mix of its classes'
corrections. The number of classes grows with the reference (one per PAIRS_PER_CLASS aligned
frames), so longer references buy a finer, more similar voice; docs/engine.md has the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.synthesis.engine.features import cepstra
from services.synthesis.engine.interface import array_values, tensor_state

KEY_CEPSTRA = 24
KEY_CONTEXT = 2  # frames either side
PAIRS_PER_CLASS = 45
MIN_CLASSES, MAX_CLASSES = 8, 256
SHRINK = 5.0  # a class's correction is scaled by n / (n + SHRINK): few frames, less trust
TEMPERATURE = 0.05  # softness of the class assignment (cosine units)
ITERATIONS = 15


def _keys(log_mel: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    c = (cepstra(log_mel, KEY_CEPSTRA) - mean) / std
    padded = np.pad(c, ((KEY_CONTEXT, KEY_CONTEXT), (0, 0)), mode="edge")
    keys = np.concatenate([padded[i : i + len(c)] for i in range(2 * KEY_CONTEXT + 1)], axis=1)
    return keys / (np.linalg.norm(keys, axis=1, keepdims=True) + 1e-9)


def _assign(keys: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmax(keys @ centres.T, axis=1)


@dataclass
class SoundClasses:
    key_mean: np.ndarray  # (KEY_CEPSTRA,) base-voice cepstra statistics
    key_std: np.ndarray
    centres: np.ndarray  # (classes, keys) unit rows
    corrections: np.ndarray  # (classes, 80) log-mel
    strength: float

    def __call__(self, base_mel: np.ndarray) -> np.ndarray:
        """The correction (frames, 80) for base log-mel frames (as moved by the conversion's wave pitch)."""
        logits = _keys(base_mel, self.key_mean, self.key_std) @ self.centres.T / TEMPERATURE
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return (self.strength * (weights @ self.corrections)).astype(np.float32)

    def to_state(self) -> dict:
        return tensor_state(vars(self))

    @classmethod
    def from_state(cls, state: dict) -> SoundClasses:
        return cls(**array_values(state))


def fit(base_mel: np.ndarray, base_index: np.ndarray, missed: np.ndarray, strength: float) -> SoundClasses | None:
    """Classes over the paired base frames `base_mel[base_index]`; `missed`: for each pair, the
    reference frame minus the linear conversion of its base frame. None when the reference is too
    short for MIN_CLASSES classes or the strength is 0."""
    count = min(MAX_CLASSES, len(base_index) // PAIRS_PER_CLASS)
    if count < MIN_CLASSES or strength <= 0:
        return None
    c = cepstra(base_mel[base_index], KEY_CEPSTRA)
    mean, std = c.mean(axis=0), c.std(axis=0) + 1e-5
    keys = _keys(base_mel, mean, std)[base_index]
    # spherical k-means, seeded deterministically so a rebuild gives the same voice
    centres = keys[np.random.default_rng(0).choice(len(keys), count, replace=False)]
    for _ in range(ITERATIONS):
        label = _assign(keys, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, label, keys)
        used = np.bincount(label, minlength=count) > 0
        centres[used] = sums[used] / (np.linalg.norm(sums[used], axis=1, keepdims=True) + 1e-9)
    label = _assign(keys, centres)
    sizes = np.bincount(label, minlength=count).astype(np.float64)
    totals = np.zeros((count, missed.shape[1]))
    np.add.at(totals, label, missed)
    corrections = totals / (sizes[:, None] + SHRINK)  # mean × n / (n + SHRINK)
    return SoundClasses(
        mean.astype(np.float32),
        std.astype(np.float32),
        centres.astype(np.float32),
        corrections.astype(np.float32),
        float(strength),
    )
