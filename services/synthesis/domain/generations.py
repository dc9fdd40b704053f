"""Generation ids, output formats, the limits of what one request may ask, and a generation's record."""

from __future__ import annotations

from dataclasses import dataclass

from kit.errors import InvalidArgument

# The mark carries 32 bits: synthesis uses the upper half, the watermark service's Embed the lower.
FIRST_GENERATION_ID = 2**31
LAST_GENERATION_ID = 2**32 - 1

MAX_SHORT_TEXT = 5_000  # unary and streamed calls (the seed's limit)
MAX_JOB_TEXT = 100_000  # long-form jobs, chunked by the engine's sentence splitter

FORMATS = ("mp3", "wav", "flac", "ogg")
DEFAULT_FORMAT = "mp3"  # every tier has it


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise InvalidArgument(f"unknown audio format {name!r}; one of {', '.join(FORMATS)}", field="format")
    return name


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
