"""The contract's codes for what use cases send out: the audio format in tenancy's reservation and in
GenerationRequested, the tier's name in metrics. (The gRPC edge converts its own requests.)"""

from __future__ import annotations

from kit.contract_codes import FORMAT_CODES, TIER_NAMES
from services.synthesis.domain.generations import check_format


def format_code(name: str) -> int:
    """ "mp3" → AUDIO_FORMAT_MP3; an unknown name is InvalidArgument."""
    return FORMAT_CODES[check_format(name)]


def tier_name(code: int) -> str:
    return TIER_NAMES.get(code, "unknown")  # type: ignore[call-overload]  # the stub keys by the Tier enum
