"""What an API key was exchanged for, kept for a few seconds so that a busy key costs tenancy one
token exchange per TTL instead of one per request; revocations evict at once.

An entry is keyed by a SHA-256 digest of the presented key (the cache never holds a secret) and holds
the access token tenancy issued with the tenant, key id and tier it carries. It is served while all of:

- it is younger than `ttl_seconds` (the worst-case revocation delay when no event arrives);
- its token has more than `expiry_margin_seconds` left (a call the token starts must not outlive it);
- the event listener is healthy: it has confirmed, within `listener_stale_seconds`, that it applied
  every revocation published up to then. While it is not (Kafka down, the listener behind or not yet
  started) the cache is bypassed and every request asks tenancy, as it did before the cache existed.

Evictions come from tenancy's and billing's events (`gateway/revocation_listener.py`): a key revoked,
a tenant's tier changed (its tokens carry the old tier), a billing verdict (suspension or restore).
Each also leaves a mark, so an exchange that was already in flight when the event arrived cannot put
back what the event removed. A billing verdict reaches tenancy and this gateway at about the same
time, so after one the tenant's keys are not cached for `hold_seconds`: every request asks tenancy,
which refuses a suspended tenant as soon as it has applied the verdict.

Failed exchanges (a wrong or revoked key) are never cached; the rate limiter bounds what they cost.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.listener_vouch import CacheStats, ListenerVouch, VouchedCache


def credential_digest(secret: str) -> str:
    """The name a presented credential goes by in the gateway's memory (rate-limit buckets, this cache)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Credential:
    """A successful exchange: the access token and what it says about its holder."""

    token: str
    tenant_id: str
    key_id: str
    tier: int
    expires_at: float  # the token's expiry, seconds since the epoch


@dataclass
class _Entry:
    credential: Credential
    stored_at: float  # monotonic


@dataclass
class CredentialCache(VouchedCache):
    ttl_seconds: float = 15.0
    expiry_margin_seconds: float = 30.0
    listener_stale_seconds: float = 3.0
    hold_seconds: float = 15.0
    max_entries: int = 100_000
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_key: dict[str, set[str]] = {}
        self._by_tenant: dict[str, set[str]] = {}
        # Marks left by evictions: when the event arrived, and until when the subject stays uncached.
        self._key_marks: dict[str, tuple[float, float]] = {}
        self._tenant_marks: dict[str, tuple[float, float]] = {}
        self._vouch = ListenerVouch(self.listener_stale_seconds)
        self._lock = threading.Lock()

    # --- the listener's side (and VouchedCache's) ---------------------------------------------

    def revoke_key(self, key_id: str) -> int:
        """Evict every entry of `key_id`; returns how many."""
        with self._lock:
            now = self.monotonic()
            self._key_marks[key_id] = (now, now)
            return self._evict(self._by_key.get(key_id, set()).copy())

    def forget_tenant(self, tenant_id: str, hold: bool = False) -> int:
        """Evict every entry of `tenant_id` (with `hold`, and cache none of its keys for `hold_seconds`)."""
        with self._lock:
            now = self.monotonic()
            self._tenant_marks[tenant_id] = (now, now + (self.hold_seconds if hold else 0.0))
            return self._evict(self._by_tenant.get(tenant_id, set()).copy())

    # --- the request's side -------------------------------------------------------------------

    def get(self, digest: str, count: bool = True) -> Credential | None:
        """The kept credential, if it may be served; `count=False`: a look that leaves the stats alone."""
        with self._lock:
            now = self.monotonic()
            if not self._healthy(now):
                # What was kept may have missed evictions while unvouched for: start again when vouched.
                if self._entries:
                    self._drop_all()
                self.stats.bypassed += count
                return None
            entry = self._entries.get(digest)
            if entry is None:
                self.stats.misses += count
                return None
            if now - entry.stored_at >= self.ttl_seconds or self._expiring(entry.credential):
                self._evict({digest})
                self.stats.misses += count
                return None
            self.stats.hits += count
            return entry.credential

    def put(self, digest: str, credential: Credential, asked_at: float) -> bool:
        """Keep what an exchange that started at `asked_at` (from `now()`) returned; whether it was kept."""
        with self._lock:
            now = self.monotonic()
            if not self._healthy(now) or self._expiring(credential):
                return False
            if not self._vouch.covers(asked_at):
                return False  # begun before the listener was reading: a revocation may have passed unseen
            if self._overtaken(self._key_marks.get(credential.key_id), asked_at, now) or self._overtaken(
                self._tenant_marks.get(credential.tenant_id), asked_at, now
            ):
                self.stats.refused_stale += 1
                return False
            self._evict({digest})
            self._entries[digest] = _Entry(credential, now)
            self._by_key.setdefault(credential.key_id, set()).add(digest)
            self._by_tenant.setdefault(credential.tenant_id, set()).add(digest)
            while len(self._entries) > self.max_entries:
                self._evict({next(iter(self._entries))})
            self._prune_marks(now)
            return True

    def __len__(self) -> int:
        return len(self._entries)

    # --- inside the lock ----------------------------------------------------------------------

    def _expiring(self, credential: Credential) -> bool:
        return credential.expires_at - self.wall() <= self.expiry_margin_seconds

    @staticmethod
    def _overtaken(mark: tuple[float, float] | None, asked_at: float, now: float) -> bool:
        if mark is None:
            return False
        arrived, held_until = mark
        # An event that arrived after the exchange began may have changed what tenancy would answer.
        return arrived >= asked_at or now < held_until

    def _evict(self, digests: set[str]) -> int:
        evicted = 0
        for digest in digests:
            entry = self._entries.pop(digest, None)
            if entry is None:
                continue
            evicted += 1
            for index, name in ((self._by_key, entry.credential.key_id), (self._by_tenant, entry.credential.tenant_id)):
                members = index.get(name)
                if members is not None:
                    members.discard(digest)
                    if not members:
                        del index[name]
        self.stats.evicted += evicted
        return evicted

    def _drop_all(self) -> None:
        self.stats.evicted += len(self._entries)
        self._entries.clear()
        self._by_key.clear()
        self._by_tenant.clear()

    def _prune_marks(self, now: float) -> None:
        # A mark matters while an exchange that began before its event can still finish (gRPC deadline)
        # or while its hold lasts; a minute covers both.
        if len(self._key_marks) + len(self._tenant_marks) < 1024:
            return
        for marks in (self._key_marks, self._tenant_marks):
            for name in [n for n, (arrived, held) in marks.items() if now - max(arrived, held) > 60.0]:
                del marks[name]
