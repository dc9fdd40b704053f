"""Parsing and resolving HTTP byte ranges (RFC 9110 §14)."""

from __future__ import annotations

import pytest

from gateway.ranges import ByteRange, InvalidRange, parse_range


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (None, None),
        ("", None),
        ("items=0-1", None),  # another unit: ignored, the whole file is served
        ("bytes=0-1,4-5", None),  # several ranges: not supported, ignored
        ("bytes=2-5", ByteRange(first=2, last=5)),
        ("bytes=7-", ByteRange(first=7)),
        ("bytes=-3", ByteRange(suffix=3)),
        (" Bytes = 2-5 ", ByteRange(first=2, last=5)),
    ],
)
def test_parse(header, parsed):
    assert parse_range(header) == parsed


@pytest.mark.parametrize("header", ["bytes=5-3", "bytes=-", "bytes=a-b", "bytes=1", "bytes=+1-2", "bytes=١-٢"])
def test_invalid_ranges_raise(header):
    with pytest.raises(InvalidRange):
        parse_range(header)


@pytest.mark.parametrize(
    ("wanted", "total", "span"),
    [
        (ByteRange(first=2, last=5), 10, (2, 5)),
        (ByteRange(first=2, last=500), 10, (2, 9)),  # the end is clamped to the file
        (ByteRange(first=7), 10, (7, 9)),
        (ByteRange(first=9, last=9), 10, (9, 9)),
        (ByteRange(suffix=3), 10, (7, 9)),
        (ByteRange(suffix=30), 10, (0, 9)),
        (ByteRange(first=10), 10, None),  # starts past the end
        (ByteRange(suffix=0), 10, None),
        (ByteRange(first=0), 0, None),  # nothing lies inside an empty file
        (ByteRange(suffix=1), 0, None),
    ],
)
def test_resolve(wanted, total, span):
    assert wanted.resolve(total) == span
