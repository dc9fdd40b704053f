"""Webhook rules: what is signed and how, when to retry, when to give an endpoint up."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from kit.errors import InvalidArgument

EVENTS = ("job.succeeded", "job.failed")
SIGNATURE_HEADER = "Timbre-Signature"


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    tenant_id: str
    url: str
    events: list[str]
    # The HMAC key itself (it must sign every delivery); shown to the tenant once, never logged.
    secret: str
    disabled: bool = False
    disabled_reason: str = ""
    consecutive_failures: int = 0
    created_at: datetime | None = None  # set by the repository when the endpoint is added
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    webhook_id: str
    event: str
    body: bytes
    attempts: int = 0
    next_attempt_at: datetime | None = None  # None: due at once
    delivered_at: datetime | None = None
    abandoned_at: datetime | None = None
    last_error: str = ""


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > 2000:
        raise InvalidArgument("webhook url must be an http(s) URL of at most 2000 characters", field="url")
    return url


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>." + body>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps (replays)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def backoff(attempts: int, base_seconds: float, cap_seconds: float = 3600.0) -> float:
    """Seconds before the next try after `attempts` failures: base, 2·base, 4·base, … capped."""
    return min(base_seconds * 2 ** max(attempts - 1, 0), cap_seconds)
