"""What a reference says, heard by Whisper base from the model store, for F5 voices built without a
transcript: F5 continues the reference, so it needs the words the reference speaks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kit.models import ModelStore
from kit.models.whisper import load_whisper

Transcriber = Callable[[np.ndarray], str | None]  # 16 kHz float32 speech → its words, or None
HEARD_LANGUAGES = ("th", "en")
MIN_LANGUAGE_PROBABILITY = 0.5


class WhisperTranscriber:
    """Whisper base, loaded at the first reference it hears (ModelMissing names the fetch command)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def __call__(self, samples: np.ndarray) -> str | None:
        model = load_whisper(str(self.store.root))
        segments, info = model.transcribe(
            np.ascontiguousarray(samples, dtype=np.float32),
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        if info.language not in HEARD_LANGUAGES or info.language_probability < MIN_LANGUAGE_PROBABILITY:
            return None  # before decoding: segments are decoded as they are read
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return text or None
