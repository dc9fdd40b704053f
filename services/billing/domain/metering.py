"""Usage as Stripe bills it: one meter event per generation, named by a deterministic identifier.

The identifier is derived from what is billed (the generation), so every attempt to send the same
usage carries the same identifier and Stripe counts it once, whatever our side retried. Our ledger
keeps one row per identifier: the second line of defence, and the record of what Stripe answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

# Stripe's limit on a meter event identifier.
MAX_IDENTIFIER = 100


def meter_identifier(tenant_id: str, generation_ref: str) -> str:
    identifier = f"timbre-usage-{tenant_id}-{generation_ref}"
    if len(identifier) > MAX_IDENTIFIER:
        raise ValueError("generation reference too long for a meter event identifier")
    return identifier


class ReportStatus(Enum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class MeterEvent:
    """Characters of one generation, waiting for (or sent to) Stripe."""

    identifier: str
    tenant_id: str
    value: int
    occurred_at: datetime
    attempts: int = 0


class Verdict(Enum):
    SENT = "sent"  # Stripe has it (now or from an earlier attempt with the same identifier)
    RETRY = "retry"  # rate limited, server error, timeout: send again later, same identifier
    DEAD = "dead"  # Stripe refused the request itself: a person must fix the cause, then replay


@dataclass(frozen=True)
class StripeAnswer:
    """What came back from one call, in terms the ledger records."""

    verdict: Verdict
    http_status: int = 0
    detail: str = ""
    retry_after_seconds: float | None = None


# Backoff for transient failures: doubling from 1 s to 5 min (the SDK already retried inside the call).
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0


def next_attempt(now: datetime, attempts: int, retry_after_seconds: float | None = None) -> datetime:
    backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    if retry_after_seconds is not None:
        backoff = max(backoff, retry_after_seconds)
    return now + timedelta(seconds=backoff)


@dataclass(frozen=True)
class DeadLetter:
    """A Stripe call refused for good, kept with Stripe's reason until an operator replays it."""

    identifier: str
    tenant_id: str
    kind: str  # meter_event | customer | subscription
    http_status: int
    reason: str
    attempts: int
    created_at: datetime
