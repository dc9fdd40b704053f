"""Audio analysis for enrollment and verification: decode, voice activity, quality checks, embedding.

An upload is decoded once, at upload, into 16 kHz mono (the rate of the speaker encoder, the voice
activity model and the voice engine's references) and stored as that normalised copy, losslessly; the
analysis and synthesis's voice build read the copy instead of decoding the upload again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.audio.codec import AudioDecodeError, Clip, decode, encode
from kit.errors import InvalidArgument
from services.embedding.domain import audio_checks as checks
from services.embedding.domain.audio_checks import AudioPolicy, Rejection
from services.embedding.encoders.base import SAMPLE_RATE, SpeakerEncoder, l2_normalise
from services.embedding.service_layer.ports import VoiceActivity

# A file needs this much speech before its own embedding is trusted for the mixed-speaker check.
MIN_SECONDS_FOR_SPEAKER_CHECK = 3.0
# Lossless, and a third of WAV's size for speech.
NORMALISED_FORMAT, NORMALISED_CONTENT_TYPE, NORMALISED_SUFFIX = "flac", "audio/flac", ".flac"


@dataclass(frozen=True)
class Analysis:
    embedding: np.ndarray | None
    speech_seconds: float
    rejection: Rejection | None


class Analyzer:
    def __init__(self, encoder: SpeakerEncoder, vad: VoiceActivity, policy: AudioPolicy) -> None:
        self.encoder = encoder
        self.vad = vad
        self.policy = policy

    def decode_upload(self, name: str, data: bytes) -> Clip:
        """Decode one uploaded file and apply the per-file checks; InvalidArgument with the reason."""
        try:
            clip = decode(data, SAMPLE_RATE, self.policy.max_file_seconds, self.policy.max_file_bytes)
        except AudioDecodeError as exc:
            raise InvalidArgument(f"{name}: {exc}", reason=exc.reason) from exc
        rejection = checks.check_file(self.policy, name, len(data), clip.native_rate)
        if rejection:
            raise InvalidArgument(rejection.detail, reason=rejection.reason)
        return clip

    @staticmethod
    def normalised(clip: Clip) -> bytes:
        """The stored copy of a decoded upload: its 16 kHz mono samples, losslessly encoded."""
        return encode(clip.samples, SAMPLE_RATE, NORMALISED_FORMAT)

    def load_normalised(self, data: bytes) -> np.ndarray:
        """A stored normalised copy's samples (already 16 kHz mono: decoding it resamples nothing)."""
        return decode(data, SAMPLE_RATE, self.policy.max_file_seconds + 1, max(len(data), 1)).samples

    def analyse(self, files: list[tuple[str, np.ndarray]]) -> Analysis:
        """Quality, speech length, one speaker, and the voice's embedding over all files' speech."""
        speech_parts, per_file = [], []
        total = 0.0
        for name, samples in files:
            rejection = checks.check_quality(self.policy, name, samples)
            if rejection:
                return Analysis(None, total, rejection)
            speech_map = self.vad.analyse(samples)
            speech = speech_map.speech_samples(samples)
            total += len(speech) / SAMPLE_RATE
            speech_parts.append(speech)
            if len(speech) >= MIN_SECONDS_FOR_SPEAKER_CHECK * SAMPLE_RATE:
                per_file.append((name, speech))
        rejection = checks.check_speech(self.policy, total)
        if rejection:
            return Analysis(None, total, rejection)
        if len(per_file) >= 2:
            vectors = [self.encoder.embed(speech) for _, speech in per_file]
            scores = []
            for i, vector in enumerate(vectors):
                others = l2_normalise(np.sum([v for j, v in enumerate(vectors) if j != i], axis=0))
                scores.append(float(np.dot(vector, others)))
            rejection = checks.check_same_speaker(self.policy, [n for n, _ in per_file], scores)
            if rejection:
                return Analysis(None, total, rejection)
        embedding = self.encoder.embed(np.concatenate(speech_parts))
        return Analysis(embedding, total, None)

    def probe(self, name: str, data: bytes, min_speech_seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray, float]:
        """A short recording to compare with a voice: (embedding, 16 kHz samples, speech seconds)."""
        clip = self.decode_upload(name, data)
        speech = self.vad.analyse(clip.samples).speech_samples(clip.samples)
        seconds = len(speech) / SAMPLE_RATE
        if seconds < min_speech_seconds:
            raise InvalidArgument(
                f"{name}: {seconds:.1f} s of speech; at least {min_speech_seconds:.0f} s is needed",
                reason="AUDIO_TOO_SHORT",
            )
        return self.encoder.embed(speech), clip.samples, seconds
