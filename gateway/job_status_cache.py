"""A job's status as the gateway last read it from synthesis, kept so that clients polling a job cost
the gateway a dictionary lookup instead of a synthesis round trip (GET /v1/jobs/{id} is the hottest read).

An entry is keyed by (tenant, job): the tenant is the authenticated caller's, so a tenant can only ever
be served what synthesis answered that same tenant; misses ask synthesis with the caller's token, and
only successful answers are kept (a 404 stays a question to synthesis every time). The entry is the
JSON body of the answer, serialized once, so a hit re-validates nothing.

An entry is served while all of:

- it is younger than its TTL: `active_seconds` while the job is queued or running (the worst-case
  staleness when no event arrives, e.g. a cancel through another gateway process, or progress between
  two of the tenth-step events), `terminal_seconds` once it has finished (a finished job never changes);
- the event listener (`gateway/revocation_listener.py`) has confirmed, within `listener_stale_seconds`,
  that it applied every generation lifecycle event published up to then; otherwise the cache is
  bypassed and dropped, and every poll asks synthesis as before.

Every lifecycle event of a job (started, progress, completed, failed) and the gateway's own cancel evict
it, and leave a mark so that a read already in flight when the event arrived cannot put back the state
the event replaced.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.listener_vouch import CacheStats, ListenerVouch, VouchedCache

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
_MARK_LIFETIME_SECONDS = 60.0  # longer than any read that started before the mark (gRPC deadline)

JobKey = tuple[str, str]  # (tenant id, job id)


@dataclass
class _Entry:
    body: bytes
    expires_at: float  # monotonic


@dataclass
class JobStatusCache(VouchedCache):
    active_seconds: float = 2.0
    terminal_seconds: float = 60.0
    listener_stale_seconds: float = 3.0
    max_entries: int = 100_000
    monotonic: Callable[[], float] = time.monotonic
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self._entries: OrderedDict[JobKey, _Entry] = OrderedDict()
        self._marks: dict[JobKey, float] = {}  # when an eviction for the job last arrived (monotonic)
        self._vouch = ListenerVouch(self.listener_stale_seconds)
        self._pruned_at = 0.0
        self._lock = threading.Lock()

    # --- the listener's side (and VouchedCache's) ---------------------------------------------

    def evict(self, tenant_id: str, job_id: str) -> bool:
        """The job changed (an event, a cancel): forget it and refuse reads begun before now."""
        key = (tenant_id, job_id)
        with self._lock:
            self._marks[key] = self.monotonic()
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.stats.evicted += 1
            self._prune_marks()
            return entry is not None

    # --- the request's side -------------------------------------------------------------------

    def get(self, tenant_id: str, job_id: str, count: bool = True) -> bytes | None:
        """The kept body, if it may be served; `count=False`: a look that leaves the stats alone."""
        with self._lock:
            now = self.monotonic()
            if not self._healthy(now):
                if self._entries:
                    self._drop_all()  # kept while unvouched for: may have missed evictions
                self.stats.bypassed += count
                return None
            key = (tenant_id, job_id)
            entry = self._entries.get(key)
            if entry is None or now >= entry.expires_at:
                if entry is not None:
                    del self._entries[key]
                    self.stats.evicted += 1
                self.stats.misses += count
                return None
            self.stats.hits += count
            return entry.body

    def put(self, tenant_id: str, job_id: str, state: str, body: bytes, asked_at: float) -> bool:
        """Keep the body of a read that started at `asked_at` (from `now()`); whether it was kept."""
        key = (tenant_id, job_id)
        with self._lock:
            now = self.monotonic()
            if not self._healthy(now) or not self._vouch.covers(asked_at):
                return False  # begun before the listener was reading: an event may have passed unseen
            mark = self._marks.get(key)
            if mark is not None and mark >= asked_at:
                self.stats.refused_stale += 1
                return False
            ttl = self.terminal_seconds if state in TERMINAL_STATES else self.active_seconds
            self._entries.pop(key, None)
            self._entries[key] = _Entry(body, now + ttl)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.stats.evicted += 1
            return True

    def __len__(self) -> int:
        return len(self._entries)

    # --- inside the lock ----------------------------------------------------------------------

    def _drop_all(self) -> None:
        self.stats.evicted += len(self._entries)
        self._entries.clear()

    def _prune_marks(self) -> None:
        now = self.monotonic()
        if len(self._marks) < 4096 or now - self._pruned_at < 1.0:
            return  # at most one sweep a second, however busy the topic
        self._pruned_at = now
        horizon = now - _MARK_LIFETIME_SECONDS
        for key in [k for k, arrived in self._marks.items() if arrived < horizon]:
            del self._marks[key]
