"""The audit log in memory: entries appended to a list (rolled back with the fake unit of work's state)."""

from __future__ import annotations

from dataclasses import replace

from kit.paging import PageRequest
from services.embedding.domain.audit import AuditEvent
from tests.fakes.clock import FakeClock


class FakeAuditLog:
    def __init__(self, entries: list[AuditEvent], clock: FakeClock) -> None:
        self.entries = entries
        self.clock = clock

    def append(self, event: AuditEvent) -> None:
        self.entries.append(replace(event, event_id=len(self.entries) + 1, at=self.clock.now()))

    def list(self, tenant_id: str, page: PageRequest, voice_id: str | None = None) -> list[AuditEvent]:
        mine = [e for e in reversed(self.entries) if e.tenant_id == tenant_id and voice_id in (None, e.voice_id)]
        if page.after is not None:
            mine = [e for e in mine if e.event_id < int(page.after.id)]
        return mine[: page.fetch]
