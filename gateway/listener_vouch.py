"""Whether the event listener (`gateway/revocation_listener.py`) vouches for what a cache holds.

A cache may serve what it kept only while the listener has confirmed, within `stale_seconds`, that it
applied every event published up to then: otherwise an eviction may be sitting unread in Kafka. And it
may keep only what was read after the listener began reading: events from before that may have gone
unseen. Both caches (credentials, job status) are `VouchedCache`s: they hold one of these, inside
their own lock, and share the listener's side of their interface.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ListenerVouch:
    stale_seconds: float
    confirmed_at: float | None = None  # the listener's last "caught up" (monotonic)
    reading_since: float | None = None  # its first "caught up" since it (re)started reading

    def caught_up(self, as_of: float) -> None:
        """The listener has applied every event published before `as_of` (monotonic)."""
        if self.confirmed_at is None or as_of > self.confirmed_at:
            self.confirmed_at = as_of
        if self.reading_since is None:
            self.reading_since = as_of

    def lost(self) -> None:
        """The listener cannot vouch for anything any more (its consumer failed or stopped)."""
        self.confirmed_at = self.reading_since = None

    def vouches(self, now: float) -> bool:
        """Whether what the cache holds may be served at `now`."""
        return self.confirmed_at is not None and now - self.confirmed_at <= self.stale_seconds

    def covers(self, asked_at: float) -> bool:
        """Whether a read begun at `asked_at` began after the listener was reading (so it may be kept)."""
        return self.reading_since is not None and asked_at >= self.reading_since


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    evicted: int = 0
    refused_stale: int = 0  # reads that an eviction overtook, not stored


class VouchedCache:
    """The part of a cache the revocation listener drives, and the vouching checks its reads make. A
    subclass sets `_vouch`, `_lock` and `monotonic`, and says how to `_drop_all` it holds."""

    _vouch: ListenerVouch
    _lock: threading.Lock
    monotonic: Callable[[], float]

    def listener_caught_up(self, as_of: float) -> None:
        """The listener has applied every event published before `as_of` (monotonic)."""
        with self._lock:
            self._vouch.caught_up(as_of)

    def listener_lost(self) -> None:
        """The listener cannot vouch for anything any more (its consumer failed or stopped)."""
        with self._lock:
            self._vouch.lost()
            self._drop_all()  # what was kept may miss evictions from now on

    def healthy(self) -> bool:
        with self._lock:
            return self._healthy(self.monotonic())

    def now(self) -> float:
        """When a read starts: `put` needs it to tell whether an eviction overtook the read."""
        return self.monotonic()

    # --- inside the lock ----------------------------------------------------------------------

    def _healthy(self, now: float) -> bool:
        return self._vouch.vouches(now)

    def _drop_all(self) -> None:
        raise NotImplementedError
