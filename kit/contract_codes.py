"""The shared contract's enum codes by name (common.proto's Tier and AudioFormat), for every layer that
speaks the contract: the gRPC edges, and use cases that put a code in a reservation or an event."""

from __future__ import annotations

from timbre.v1 import common_pb2

TIER_CODES = {"free": common_pb2.TIER_FREE, "pro": common_pb2.TIER_PRO, "enterprise": common_pb2.TIER_ENTERPRISE}
TIER_NAMES = {v: k for k, v in TIER_CODES.items()}
FORMAT_CODES = {
    "mp3": common_pb2.AUDIO_FORMAT_MP3,
    "wav": common_pb2.AUDIO_FORMAT_WAV,
    "flac": common_pb2.AUDIO_FORMAT_FLAC,
    "ogg": common_pb2.AUDIO_FORMAT_OGG,
    "pcm_16000": common_pb2.AUDIO_FORMAT_PCM_16000,
    "pcm_22050": common_pb2.AUDIO_FORMAT_PCM_22050,
    "pcm_24000": common_pb2.AUDIO_FORMAT_PCM_24000,
    "ulaw_8000": common_pb2.AUDIO_FORMAT_ULAW_8000,
}
FORMAT_NAMES = {v: k for k, v in FORMAT_CODES.items()}
