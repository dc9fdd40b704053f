"""Small conversions every gRPC edge needs: timestamps, shared enums, page cursors."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kit.errors import InvalidArgument
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

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def page_size(page: common_pb2.PageRequest) -> int:
    if page.page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    return min(page.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_cursor(created: datetime, item_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created.isoformat(), item_id]).encode()).decode()


def decode_cursor(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        created, item_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(created), str(item_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("invalid page_token") from exc


def page_request(page: common_pb2.PageRequest) -> PageRequest:
    """The proto page request as the service layer's `kit.paging.PageRequest`."""
    return PageRequest.of(page.page_size, page.page_token)


def page_response(page: Page) -> common_pb2.PageResponse:
    return common_pb2.PageResponse(next_page_token=page.next_token)
