"""Generation ids, output formats, the limits of what one request may ask, and a generation's record."""

from __future__ import annotations

from dataclasses import dataclass

from kit.audio.codec import fixed_rate
from kit.errors import InvalidArgument

# The mark carries 32 bits: synthesis uses the upper half, the watermark service's Embed the lower.
FIRST_GENERATION_ID = 2**31
LAST_GENERATION_ID = 2**32 - 1

MAX_SHORT_TEXT = 5_000  # unary and streamed calls (the seed's limit)
MAX_JOB_TEXT = 100_000  # long-form jobs, chunked by the engine's sentence splitter

# Files, then headerless audio at a rate the name gives (real-time and telephony clients).
FORMATS = ("mp3", "wav", "flac", "ogg", "pcm_16000", "pcm_22050", "pcm_24000", "ulaw_8000")
DEFAULT_FORMAT = "mp3"  # every tier has it


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise InvalidArgument(f"unknown audio format {name!r}; one of {', '.join(FORMATS)}", field="format")
    return name


def audio_rate(fmt: str, sample_rate: int) -> int:
    """The sample rate to speak at: a headerless format's own (a request naming another is refused,
    since the client could not tell from the bytes), else what was asked (0: the engine's)."""
    implied = fixed_rate(fmt)
    if implied is None:
        return sample_rate
    if sample_rate and sample_rate != implied:
        raise InvalidArgument(
            f"format {fmt} is {implied} Hz; sample_rate {sample_rate} contradicts it (leave it 0)",
            field="sample_rate",
        )
    return implied


@dataclass(frozen=True)
class Generation:
    """One generation's row: the usage and provenance facts, written with its events."""

    generation_id: int
    tenant_id: str
    voice_id: str
    user_id: str
    job_id: str | None
    kind: str  # unary | stream | job
    model: str
    language: str
    format: str
    characters: int
    audio_seconds: float
    compute_seconds: float
