"""What every voice engine offers: build a voice artifact from reference audio, and speak text with
it as a stream of PCM chunks. Options are checked here, once, for every engine."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kit.errors import InvalidArgument

MAX_TEXT_CHARS = 5000
LANGUAGES = ("th", "en")
SPEED_RANGE = (0.5, 2.0)
PITCH_RANGE = (-12.0, 12.0)  # semitones
RATE_RANGE = (8000, 48000)
REFERENCE_RATE = 16000  # reference audio arrives decoded at this rate (kit.audio.decode's default)

Progress = Callable[[str, float], None]  # (stage, fraction 0..1)


@dataclass(frozen=True)
class SpeechOptions:
    language: str = "th"
    speed: float = 1.0
    pitch: float = 0.0  # semitones
    sample_rate: int = 0  # 0: the engine's native rate
    # A live stream: engines that speak a sentence at a time speak its first few words on their own
    # first, so the listener hears something sooner (text.split_first).
    realtime: bool = False

    def checked(self, max_chars: int, text: str, languages: tuple[str, ...] = LANGUAGES) -> SpeechOptions:
        if not text.strip():
            raise InvalidArgument("text is empty", field="text")
        if len(text) > max_chars:
            raise InvalidArgument(
                f"text is {len(text)} characters; the limit is {max_chars}",
                reason="TEXT_TOO_LONG",
                limit=max_chars,
                characters=len(text),
            )
        return self.checked_settings(languages)

    def checked_settings(self, languages: tuple[str, ...] = LANGUAGES) -> SpeechOptions:
        """The options without a text (a live session's text arrives later)."""
        if self.language not in languages:
            raise InvalidArgument(
                f"language {self.language!r} is not offered; one of {', '.join(languages)}", field="language"
            )
        if not SPEED_RANGE[0] <= self.speed <= SPEED_RANGE[1]:
            raise InvalidArgument(f"speed {self.speed} is outside {SPEED_RANGE[0]}–{SPEED_RANGE[1]}", field="speed")
        if not PITCH_RANGE[0] <= self.pitch <= PITCH_RANGE[1]:
            raise InvalidArgument(
                f"pitch {self.pitch} semitones is outside {PITCH_RANGE[0]:g}–{PITCH_RANGE[1]:g}", field="pitch"
            )
        if self.sample_rate and not RATE_RANGE[0] <= self.sample_rate <= RATE_RANGE[1]:
            raise InvalidArgument(
                f"sample rate {self.sample_rate} Hz is outside {RATE_RANGE[0]}–{RATE_RANGE[1]} Hz", field="sample_rate"
            )
        return self


def save_artifact(state: dict) -> bytes:
    """A voice artifact (speaker.pth): tensors and plain values only."""
    import torch  # here, not at import: the CLI reads this module's constants without loading torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def tensor_state(values: dict) -> dict:
    """numpy arrays → tensors, other values as they are: what an artifact may hold (weights_only)."""
    import torch

    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in values.items()}


def array_values(state: dict) -> dict:
    """The inverse of tensor_state."""
    import torch

    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def load_artifact(artifact: bytes, kind: str, built_for: str, **expected: str) -> dict:
    """The artifact's state, loaded with weights_only=True (no pickled code from storage), checked
    to be of `kind` (and any `expected` fields); otherwise InvalidArgument naming `built_for`."""
    import torch

    try:
        state = torch.load(io.BytesIO(artifact), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable or unsafe artifact is the same error
        raise InvalidArgument(f"the voice artifact is not readable ({exc.__class__.__name__})", field="voice") from exc
    if (
        not isinstance(state, dict)
        or state.get("kind") != kind
        or any(state.get(key) != value for key, value in expected.items())
    ):
        raise InvalidArgument(f"the voice artifact was not built {built_for}", field="voice")
    return state


class VoiceEngine(ABC):
    name: str
    native_rate: int
    languages: tuple[str, ...] = LANGUAGES
    # Where the engine computes ("cpu", "cuda", "cuda:1"): the worker class that usage is priced at.
    device: str = "cpu"

    @abstractmethod
    def build_voice(
        self, references: list[np.ndarray], transcript: str | None = None, progress: Progress | None = None
    ) -> bytes:
        """Reference speech (float32 mono at REFERENCE_RATE) → the voice artifact (speaker.pth bytes)."""

    def load_voice(self, artifact: bytes) -> Any:
        """The artifact made ready to speak (parsed, tensors loaded): what `_stream` takes as its voice.
        Slow (torch.load), so callers that speak often keep the result (engine.voice_cache)."""
        return artifact

    @abstractmethod
    def _stream(self, text: str, voice: Any, options: SpeechOptions) -> Iterator[np.ndarray]:
        """Checked options and a loaded voice (or None) → float32 chunks at options.sample_rate (or native_rate)."""

    def synthesize(
        self,
        text: str,
        voice: object = None,
        options: SpeechOptions | None = None,
        max_chars: int = MAX_TEXT_CHARS,
    ) -> Iterator[np.ndarray]:
        """Text → PCM chunks (float32 mono), one per sentence, the first as soon as it is spoken.

        `voice`: artifact bytes, a voice `load_voice` returned, or None for the engine's own voice.
        Errors in the text, options or artifact are raised here, before any work, not at the first chunk."""
        options = (options or SpeechOptions()).checked(max_chars, text, self.languages)
        loaded = self.load_voice(voice) if isinstance(voice, bytes) else voice
        return self._stream(text, loaded, options)

    def output_rate(self, options: SpeechOptions) -> int:
        return options.sample_rate or self.native_rate
