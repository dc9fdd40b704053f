"""Usage as billing counts it: per tenant and calendar month, one generation at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.periods import period_of


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
