"""The contract's codes for what use cases send out: the audio format in tenancy's reservation and in
GenerationRequested, the tier's name in metrics. (The gRPC edge converts its own requests.)"""

from __future__ import annotations

from services.synthesis.domain.generations import check_format
from timbre.v1 import common_pb2

_TIER_NAMES: dict[int, str] = {
    common_pb2.TIER_FREE: "free",
    common_pb2.TIER_PRO: "pro",
    common_pb2.TIER_ENTERPRISE: "enterprise",
}


def format_code(name: str) -> int:
    """ "mp3" → AUDIO_FORMAT_MP3; an unknown name is InvalidArgument."""
    return common_pb2.AudioFormat.Value(f"AUDIO_FORMAT_{check_format(name).upper()}")


def tier_name(code: int) -> str:
    return _TIER_NAMES.get(code, "unknown")
