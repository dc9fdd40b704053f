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
        """Still counting and committable: active and not past its TTL (the sweeper may lag behind)."""
        return self.status == "active" and self.expires_at > now
