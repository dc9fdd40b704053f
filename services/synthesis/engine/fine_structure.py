"""The reference's own harmonics: voiced frames get the fine structure of reference frames at the same pitch.

A log-mel frame is an envelope (the vocal tract: ENVELOPE_CEPSTRA low quefrencies, what the
conversion maps) plus a fine structure (the harmonics and what the envelope leaves out). Moving the
base voice's pitch in the mel domain smears its harmonics, and they are still the base speaker's
harmonics. Here each voiced output frame takes instead the mean fine structure of the NEIGHBOURS
reference frames whose F0 is nearest to the frame's own (after the conversion's pitch move): the
right harmonic spacing, in the reference speaker's own shape. Frames whose F0 is further than
MAX_DISTANCE from every reference frame (a pitch option beyond the reference's range) and unvoiced
frames keep the conversion's fine structure. Measured: docs/engine.md ("Fine structure").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.synthesis.engine.features import ENVELOPE_CEPSTRA, f0_per_frame, split_envelope
from services.synthesis.engine.interface import array_values, tensor_state

NEIGHBOURS = 4  # reference frames averaged per output frame (1 is rougher, 16 blurs: docs/engine.md)
MAX_DISTANCE = float(np.log(2.0) / 12.0)  # one semitone, in log F0
MIN_FRAMES = 50  # fewer voiced reference frames: no pool (the conversion's own fine structure stays)
SPLIT = ENVELOPE_CEPSTRA  # cepstra left to the conversion, the rest from the reference (10 and 24 did worse)
MAX_FRAMES = 6000  # ~70 s of voiced speech (≈1 MB as float16); longer references are thinned evenly


@dataclass
class FineStructure:
    log_f0: np.ndarray  # (n,) sorted
    fine: np.ndarray  # (n, 80) float16, in log_f0's order
    split: int = SPLIT  # the cepstra the pool's fine structure starts after (kept: SPLIT may change)

    def __call__(self, log_mel: np.ndarray, f0: np.ndarray) -> np.ndarray:
        """`log_mel` (frames, 80) with each voiced frame's fine structure replaced; `f0` (frames,)
        is each frame's F0 in Hz as it will sound (0 = unvoiced)."""
        voiced = np.flatnonzero(f0 > 0)
        if not len(voiced):
            return log_mel
        query = np.log(f0[voiced])
        # the NEIGHBOURS nearest pool entries lie in a window of the sorted pool around the query
        at = np.searchsorted(self.log_f0, query)
        size = len(self.log_f0)
        count = min(NEIGHBOURS, size)
        start = np.clip(at - count, 0, max(size - 2 * count, 0))
        window = start[:, None] + np.arange(min(2 * count, size))
        distance = np.abs(self.log_f0[window] - query[:, None])
        order = np.argsort(distance, axis=1)[:, :count]
        nearest = np.take_along_axis(window, order, axis=1)
        close = np.take_along_axis(distance, order[:, :1], axis=1)[:, 0] <= MAX_DISTANCE
        if not close.any():
            return log_mel
        rows = voiced[close]
        envelope, _ = split_envelope(log_mel[rows], self.split)
        out = log_mel.copy()
        out[rows] = envelope + self.fine[nearest[close]].astype(np.float32).mean(axis=1)
        return out

    def to_state(self) -> dict:
        return tensor_state(vars(self))

    @classmethod
    def from_state(cls, state: dict) -> FineStructure:
        return cls(**array_values(state))


def fit(samples: np.ndarray, log_mel: np.ndarray) -> FineStructure | None:
    """The pool from reference speech (22.05 kHz samples and their log-mel); None when it has fewer
    than MIN_FRAMES voiced frames."""
    f0 = f0_per_frame(samples, len(log_mel))
    voiced = np.flatnonzero(f0 > 0)
    if len(voiced) < MIN_FRAMES:
        return None
    if len(voiced) > MAX_FRAMES:
        voiced = voiced[np.linspace(0, len(voiced) - 1, MAX_FRAMES).astype(int)]
    _, fine = split_envelope(log_mel[voiced], SPLIT)
    order = np.argsort(f0[voiced], kind="stable")
    return FineStructure(np.log(f0[voiced][order]).astype(np.float32), fine[order].astype(np.float16), SPLIT)
