"""Small conversions every gRPC edge needs: timestamps, shared enums, page cursors."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kit.paging import Page, PageRequest
from timbre.v1 import common_pb2

TIER_CODES = {"free": common_pb2.TIER_FREE, "pro": common_pb2.TIER_PRO, "enterprise": common_pb2.TIER_ENTERPRISE}
TIER_NAMES = {v: k for k, v in TIER_CODES.items()}
FORMAT_CODES = {
    "mp3": common_pb2.AUDIO_FORMAT_MP3,
    "wav": common_pb2.AUDIO_FORMAT_WAV,
    "flac": common_pb2.AUDIO_FORMAT_FLAC,
    "ogg": common_pb2.AUDIO_FORMAT_OGG,
}
FORMAT_NAMES = {v: k for k, v in FORMAT_CODES.items()}


def ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def page_request(page: common_pb2.PageRequest) -> PageRequest:
    """The proto page request as the service layer's `kit.paging.PageRequest`."""
    return PageRequest.of(page.page_size, page.page_token)


def page_response(page: Page) -> common_pb2.PageResponse:
    return common_pb2.PageResponse(next_page_token=page.next_token)
