"""Is an enrollment's audio good enough to clone from? Pure checks over measured statistics.

Each failure names the ErrorReason it is reported with, and says exactly what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AudioPolicy:
    min_speech_seconds: float = 10.0
    max_file_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    max_file_seconds: float = 600.0
    max_total_seconds: float = 1800.0
    max_files: int = 20
    min_sample_rate: int = 16000
    # Fraction of samples at the rails above which a file counts as clipped.
    max_clipped_fraction: float = 0.002
    clip_level: float = 0.99
    min_snr_db: float = 15.0
    # Files whose embeddings agree less than this are taken for different speakers.
    min_same_speaker_score: float = 0.35


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


def clipped_fraction(samples: np.ndarray, level: float) -> float:
    if len(samples) == 0:
        return 0.0
    return float(np.mean(np.abs(samples) >= level))


def snr_db(samples: np.ndarray, frame: int = 320) -> float:
    """Speech-to-noise estimate: loud frames (90th percentile energy) over quiet ones (10th).

    Pauses between words set the noise floor; digital silence gives a very high SNR.
    """
    count = len(samples) // frame
    if count < 10:
        return 0.0
    energy = np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1)
    loud, quiet = np.percentile(energy, 90), np.percentile(energy, 10)
    if loud <= 0:
        return 0.0
    return float(10 * np.log10(max(loud - quiet, 1e-12) / max(quiet, 1e-10)))


def check_file(policy: AudioPolicy, name: str, size: int, native_rate: int) -> Rejection | None:
    """What can be judged per file as it arrives (before anything is stored)."""
    if size > policy.max_file_bytes:
        return Rejection("AUDIO_TOO_LARGE", f"{name}: {size} bytes; at most {policy.max_file_bytes} per file")
    if native_rate < policy.min_sample_rate:
        return Rejection(
            "SAMPLE_RATE_TOO_LOW",
            f"{name}: recorded at {native_rate} Hz; at least {policy.min_sample_rate} Hz is needed",
        )
    return None


def check_quality(policy: AudioPolicy, name: str, samples: np.ndarray) -> Rejection | None:
    clipped = clipped_fraction(samples, policy.clip_level)
    if clipped > policy.max_clipped_fraction:
        return Rejection(
            "AUDIO_CLIPPED", f"{name}: {clipped:.2%} of samples are clipped (at most {policy.max_clipped_fraction:.2%})"
        )
    snr = snr_db(samples)
    if snr < policy.min_snr_db:
        return Rejection(
            "AUDIO_TOO_NOISY", f"{name}: signal-to-noise {snr:.1f} dB; at least {policy.min_snr_db:.0f} dB"
        )
    return None


def check_speech(policy: AudioPolicy, speech_seconds: float) -> Rejection | None:
    if speech_seconds < policy.min_speech_seconds:
        return Rejection(
            "AUDIO_TOO_SHORT",
            f"{speech_seconds:.1f} s of speech after voice-activity detection; "
            f"at least {policy.min_speech_seconds:.0f} s in total is needed",
        )
    return None


def check_same_speaker(policy: AudioPolicy, names: list[str], scores_to_centroid: list[float]) -> Rejection | None:
    """Each file's embedding against the mean of the others."""
    odd = [(n, s) for n, s in zip(names, scores_to_centroid, strict=True) if s < policy.min_same_speaker_score]
    if odd:
        listed = ", ".join(f"{n} ({s:.2f})" for n, s in odd)
        return Rejection(
            "MIXED_SPEAKERS",
            f"samples from different speakers: {listed} do not match the others "
            f"(similarity below {policy.min_same_speaker_score})",
        )
    return None
