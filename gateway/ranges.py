"""HTTP byte ranges (RFC 9110 §14): one `bytes=` range per request, resolved against a file's size.

Several ranges in one header (multipart/byteranges) are not supported: such a header, like one of
another unit, is ignored and the whole file is served, as the RFC allows.
"""

from __future__ import annotations

from dataclasses import dataclass


class InvalidRange(ValueError):
    """A `bytes=` range that cannot mean anything (e.g. `bytes=5-3`): answered with 416."""


@dataclass(frozen=True)
class ByteRange:
    """As asked: `first-last`, `first-` (last is None) or the final `suffix` bytes (`-suffix`)."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, total: int) -> tuple[int, int] | None:
        """The inclusive span [start, end] within a file of `total` bytes; None when unsatisfiable."""
        if self.suffix is not None:
            if self.suffix == 0 or total == 0:
                return None
            return max(0, total - self.suffix), total - 1
        assert self.first is not None  # parse_range sets either suffix or first
        if self.first >= total:
            return None
        end = total - 1 if self.last is None else min(self.last, total - 1)
        return self.first, end


def parse_range(header: str | None) -> ByteRange | None:
    """The single byte range asked for; None to serve the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not _digits(first) or not _digits(last):
        raise InvalidRange(f"malformed range {header!r}")
    if not first:
        return ByteRange(suffix=int(last))
    if last and int(last) < int(first):
        raise InvalidRange(f"range {header!r} ends before it starts")
    return ByteRange(first=int(first), last=int(last) if last else None)


def _digits(text: str) -> bool:
    return text == "" or text.isascii() and text.isdigit()
