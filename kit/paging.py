"""Keyset paging shared by every service: a page asks for `size` items after a cursor, the repository
fetches `size + 1` rows, and only that extra row says another page exists (a page that happens to
hold exactly `size` items is the last one; no empty trailing page)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from kit.errors import InvalidArgument

T = TypeVar("T")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: items are ordered by (created_at, id)."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.created_at.isoformat(), self.id]).encode()).decode()

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        if not token:
            return None
        try:
            created, item_id = json.loads(base64.urlsafe_b64decode(token.encode()))
            return cls(datetime.fromisoformat(created), str(item_id))
        except (ValueError, TypeError) as exc:
            raise InvalidArgument("invalid page_token", field="page_token") from exc


@dataclass(frozen=True)
class PageRequest:
    size: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None

    @classmethod
    def of(cls, size: int, token: str) -> PageRequest:
        """A client's page size (0 → the default, capped at MAX_PAGE_SIZE) and page token."""
        if size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        return cls(min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), Cursor.decode(token))

    @property
    def fetch(self) -> int:
        """How many rows a repository reads: one more than the page, to learn whether more follow."""
        return self.size + 1


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None = None

    @property
    def next_token(self) -> str:
        return self.next.encode() if self.next else ""


def page_of(rows: Sequence[T], request: PageRequest, cursor_of: Callable[[T], Cursor]) -> Page[T]:
    """`rows` as fetched with `request.fetch`: the page, with a cursor only when the extra row came back."""
    items = list(rows[: request.size])
    more = len(rows) > request.size
    return Page(items, cursor_of(items[-1]) if more and items else None)
