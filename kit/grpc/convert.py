"""Small conversions every gRPC edge needs: timestamps, shared enums (kit.contract_codes), pages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kit.contract_codes import FORMAT_CODES, FORMAT_NAMES, TIER_CODES, TIER_NAMES
from kit.paging import Page, PageRequest
from timbre.v1 import common_pb2

__all__ = ["FORMAT_CODES", "FORMAT_NAMES", "TIER_CODES", "TIER_NAMES", "page_request", "page_response", "ts"]


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
