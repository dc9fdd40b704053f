"""A voice engine that speaks a sine (fast, deterministic) and a watermarker that only records."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from services.synthesis.engine.interface import SpeechOptions, VoiceEngine


class FakeEngine(VoiceEngine):
    """`seconds_per_character` of a 220 Hz tone per character, in `chunks` pieces; counts loads.
    `fail_after` chunks, it raises `failure` (an engine dying mid-stream)."""

    name = "fake"
    native_rate = 16000

    def __init__(self, seconds_per_character: float = 0.05, chunks: int = 3) -> None:
        self.seconds_per_character = seconds_per_character
        self.chunks = chunks
        self.loads: list[bytes] = []
        self.spoken_with: list[object] = []
        self.spoken: list[tuple[str, SpeechOptions]] = []  # each call's text and options, in order
        self.fail_after: int | None = None
        self.failure: Exception = RuntimeError("the engine died")

    def build_voice(self, references: list[np.ndarray], transcript: str | None = None, progress=None) -> bytes:
        return b"voice:" + str(sum(len(r) for r in references)).encode()

    def load_voice(self, artifact: bytes) -> object:
        self.loads.append(artifact)
        return ("loaded", artifact)

    def _stream(self, text: str, voice: object, options: SpeechOptions) -> Iterator[np.ndarray]:
        self.spoken_with.append(voice)
        self.spoken.append((text, options))
        rate = self.output_rate(options)
        total = int(len(text) * self.seconds_per_character * rate)
        tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(total) / rate)).astype(np.float32)
        bounds = np.linspace(0, total, self.chunks + 1).astype(int)
        for index, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if self.fail_after is not None and index >= self.fail_after:
                raise self.failure
            yield tone[start:end]


class FakeMarker:
    """Records each embed call (length, first_slot) and returns the samples unchanged."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (samples, generation_id, first_slot)

    def embed(
        self,
        samples: np.ndarray,
        sample_rate: int,
        generation_id: int,
        strength_db: float | None = None,
        first_slot: int = 0,
    ) -> np.ndarray:
        self.calls.append((len(samples), generation_id, first_slot))
        return samples
