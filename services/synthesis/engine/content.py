"""What is being said, frame by frame, whoever says it: Whisper base's encoder states.

Aligning a reference with the base voice saying its transcript needs features that match the same
sound across two speakers. Cepstra carry the speaker too, and a misaligned pair teaches the
per-sound corrections (sound_classes.py) the wrong sound; Whisper's encoder, trained to transcribe
any voice, pairs them far better (docs/engine.md). Optional: without the model in the store the
engine aligns on cepstra.

The same model hears references that come without a transcript (`hear`), so most enrollments, which
carry none, still get the parallel pairs and per-sound corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.audio.codec import resample
from kit.models import ModelMissing, ModelStore
from kit.models.whisper import load_whisper
from services.synthesis.engine.mel import FRAME_SECONDS, RATE

WHISPER_RATE = 16000
STATES_PER_SECOND = 50
WINDOW = 3000  # feature frames per encoder call (30 s, the encoder's maximum)
MIN_WINDOW = 4
HEARD_LANGUAGES = ("en",)  # measured on English only (Thai through Whisper base is unmeasured here)
MIN_LANGUAGE_PROBABILITY = 0.5
MIN_LOG_PROBABILITY = -1.0  # a segment Whisper is less sure of is left out (with its audio)
MAX_NO_SPEECH = 0.5
MIN_HEARD_SECONDS = 3.0
SPAN_PADDING = 0.1  # seconds kept either side of a segment when the reference must be cut


@dataclass(frozen=True)
class Heard:
    """What Whisper heard in a reference: its text and the audio it covers (22.05 kHz)."""

    text: str
    samples: np.ndarray
    language: str
    dropped_segments: int


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
        states = np.concatenate(
            [
                np.asarray(self.model.encode(np.ascontiguousarray(features[:, start : start + WINDOW])))[0]
                for start in range(0, features.shape[1], WINDOW)
                if features.shape[1] - start >= MIN_WINDOW
            ]
        )
        states = (states - states.mean(axis=0)) / (states.std(axis=0) + 1e-5)
        at = np.minimum(np.round(np.arange(frames) * FRAME_SECONDS * STATES_PER_SECOND).astype(int), len(states) - 1)
        rows = states[at]
        return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9)

    def hear(self, samples: np.ndarray) -> Heard | None:
        """Transcribe 22.05 kHz reference speech; None when the language is not one the engine can
        align (HEARD_LANGUAGES) or too little of it was heard confidently. Segments Whisper is unsure
        of are dropped together with their audio, so text and audio still say the same thing."""
        audio = resample(samples, RATE, WHISPER_RATE)
        segments, info = self.model.transcribe(audio, beam_size=1, vad_filter=False, condition_on_previous_text=False)
        if info.language not in HEARD_LANGUAGES or info.language_probability < MIN_LANGUAGE_PROBABILITY:
            return None  # before decoding: the segments are decoded lazily, as they are read
        segments = list(segments)
        sure = [
            s
            for s in segments
            if s.avg_logprob >= MIN_LOG_PROBABILITY and s.no_speech_prob <= MAX_NO_SPEECH and s.text.strip()
        ]
        if len(sure) == len(segments):
            kept = samples  # nothing dropped: keep the audio whole rather than trust segment times
        else:
            spans = [
                samples[max(0, int((s.start - SPAN_PADDING) * RATE)) : int((s.end + SPAN_PADDING) * RATE)] for s in sure
            ]
            kept = np.concatenate(spans) if spans else samples[:0]
        if len(kept) < MIN_HEARD_SECONDS * RATE or not sure:
            return None
        text = " ".join(s.text.strip() for s in sure)
        return Heard(text, kept, info.language, len(segments) - len(sure))
