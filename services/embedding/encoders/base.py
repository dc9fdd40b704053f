"""The speaker-encoder port: 16 kHz mono speech → an L2-normalised embedding."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

SAMPLE_RATE = 16000


def l2_normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


class SpeakerEncoder(ABC):
    name: str
    dim: int
    # Long audio is embedded in segments of this many seconds and the segment embeddings averaged.
    segment_seconds: float = 10.0

    @abstractmethod
    def _embed_segment(self, samples: np.ndarray) -> np.ndarray:
        """One segment → one raw embedding."""

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """Speech of any length → one L2-normalised embedding (length-weighted mean over segments)."""
        size = int(self.segment_seconds * SAMPLE_RATE)
        segments = [samples[i : i + size] for i in range(0, len(samples), size)]
        if len(segments) > 1 and len(segments[-1]) < size // 3:  # fold a short tail into its neighbour
            tail = segments.pop()
            segments[-1] = np.concatenate([segments[-1], tail])
        weights = np.array([len(s) for s in segments], np.float32)
        vectors = np.stack([l2_normalise(self._embed_segment(s)) for s in segments])
        return l2_normalise((vectors * weights[:, None]).sum(axis=0))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(l2_normalise(a), l2_normalise(b)))
