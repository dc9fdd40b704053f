"""A watermark codec stand-in (the Marker port of kit.watermark.Watermarker): it leaves the samples as
they are and remembers which clip it marked with which id, knowing a clip again by its length (which
survives the WAV round trip that the use cases put audio through)."""

from __future__ import annotations

import numpy as np

from kit.watermark import Detection


class FakeMarker:
    def __init__(self) -> None:
        self.marked: dict[int, int] = {}  # clip length in samples → generation id
        self.strengths: list[float | None] = []

    def embed(
        self, samples: np.ndarray, sample_rate: int, generation_id: int, strength_db: float | None = None
    ) -> np.ndarray:
        self.marked[len(samples)] = generation_id
        self.strengths.append(strength_db)
        return samples.astype(np.float32)

    def detect(self, samples: np.ndarray, sample_rate: int) -> Detection:
        generation_id = self.marked.get(len(samples))
        if generation_id is None:
            return Detection(watermarked=False, confidence=0.0, generation_id=None)
        return Detection(watermarked=True, confidence=1.0, generation_id=generation_id)
