"""Generation ids, output formats and the limits of what one request may ask."""

from __future__ import annotations

from kit.errors import InvalidArgument
from kit.grpc.convert import FORMAT_CODES, FORMAT_NAMES
from timbre.v1 import common_pb2

# The mark carries 32 bits: synthesis uses the upper half, the watermark service's Embed the lower.
FIRST_GENERATION_ID = 2**31
LAST_GENERATION_ID = 2**32 - 1

MAX_SHORT_TEXT = 5_000  # unary and streamed calls (the seed's limit)
MAX_JOB_TEXT = 100_000  # long-form jobs, chunked by the engine's sentence splitter

FORMATS = FORMAT_CODES
DEFAULT_FORMAT = "mp3"  # every tier has it


def format_name(code: int) -> str:
    """AudioFormat → its name; UNSPECIFIED → mp3."""
    if code == common_pb2.AUDIO_FORMAT_UNSPECIFIED:
        return DEFAULT_FORMAT
    if code not in FORMAT_NAMES:
        raise InvalidArgument(f"unknown audio format {code}; one of {', '.join(FORMATS)}", field="format")
    return FORMAT_NAMES[code]


def format_code(name: str) -> int:
    if name not in FORMATS:
        raise InvalidArgument(f"unknown audio format {name!r}; one of {', '.join(FORMATS)}", field="format")
    return FORMATS[name]
