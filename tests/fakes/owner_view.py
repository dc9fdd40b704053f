"""What the owner link's view reads from tenancy and billing (the TenantDirectory and VoiceUsage ports),
in memory: tenant names, generations per (tenant, voice, month), and an outage to switch on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kit.errors import Unavailable
from services.embedding.domain.owner_link import MonthlyGenerations, month_key


@dataclass
class FakeTenantDirectory:
    names: dict[str, str] = field(default_factory=dict)

    def tenant_name(self, tenant_id: str) -> str:
        return self.names.get(tenant_id, "")


@dataclass
class FakeVoiceUsage:
    """Generations recorded with `generated`; `monthly` answers like billing grouped by month (only months
    with usage, within the asked days)."""

    rows: dict[tuple[str, str, str], MonthlyGenerations] = field(default_factory=dict)
    down: bool = False
    asked: list[tuple[str, str, date, date]] = field(default_factory=list)

    def generated(self, tenant_id: str, voice_id: str, day: date, characters: int, audio_seconds: float) -> None:
        key = (tenant_id, voice_id, month_key(day))
        before = self.rows.get(key) or MonthlyGenerations(month_key(day))
        self.rows[key] = MonthlyGenerations(
            before.month, before.requests + 1, before.characters + characters, before.audio_seconds + audio_seconds
        )

    def monthly(self, tenant_id: str, voice_id: str, first: date, last: date) -> list[MonthlyGenerations]:
        self.asked.append((tenant_id, voice_id, first, last))
        if self.down:
            raise Unavailable("billing is down", retry_after_seconds=5)
        return [
            row
            for (tenant, voice, month), row in sorted(self.rows.items())
            if (tenant, voice) == (tenant_id, voice_id) and month_key(first) <= month <= month_key(last)
        ]
