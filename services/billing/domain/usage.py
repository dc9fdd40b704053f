"""Usage as billing counts it: per tenant and calendar month, one generation at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.periods import period_of

DEFAULT_WORKER_CLASS = "cpu"


@dataclass(frozen=True)
class Account:
    tenant_id: str
    name: str
    tier: str


@dataclass(frozen=True)
class Usage:
    """One generation's usage, as reported by the service that did the work."""

    tenant_id: str
    occurred_at: datetime
    characters: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    # The kind of machine that did the work; usage from before workers reported it ran on CPUs.
    worker_class: str = DEFAULT_WORKER_CLASS

    @property
    def period(self) -> str:
        # Usage belongs to the period in which it occurred, not the one in which it was consumed.
        return period_of(self.occurred_at)

    def validate(self) -> None:
        if self.characters < 0 or self.audio_seconds < 0 or self.compute_seconds < 0:
            raise ValueError("usage amounts must not be negative")


@dataclass(frozen=True)
class UsageTotals:
    characters: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    generations: int = 0


@dataclass(frozen=True)
class PeriodUsage:
    """A tenant's totals for one period and whether they have been reported for invoicing."""

    tenant_id: str
    period: str
    totals: UsageTotals
    reported: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ComputeTotals:
    """A tenant's measured work on one worker class in one period (what the cost report prices)."""

    tenant_id: str
    period: str
    worker_class: str
    compute_seconds: float = 0.0
    requests: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
