"""A quota reservation: held amounts that count against the tier until committed, released or lapsed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Reservation:
    id: str
    tenant_id: str
    period: str
    characters: int
    voice_profiles: int
    job_slots: int
    expires_at: datetime
    voice_id: str | None = None
    idempotency_key: str | None = None
    status: str = "active"  # → committed | released | expired

    def live(self, now: datetime) -> bool:
        """Still counting against the tier: active and not past its TTL (the sweeper may lag behind)."""
        return self.status == "active" and self.expires_at > now

    def committable(self) -> bool:
        """Whether a commit may still count it. A lapsed one (active past its TTL, or swept 'expired')
        may: the TTL only bounds how long an abandoned hold blocks the tenant, and the work it held for
        ran. A released one may not: the caller gave it back, so no work is left to commit."""
        return self.status in ("active", "expired")

    def settleable(self) -> bool:
        """Whether recorded usage (UsageRecorded) still has to be counted against it: anything not yet
        committed, released included. The usage event says the work was done and billed, and the quota
        must count what billing does whatever became of the hold."""
        return self.status != "committed"
