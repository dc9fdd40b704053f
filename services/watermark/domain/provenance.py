"""Anyone may learn that Timbre generated a clip and when; the full record is for its owner."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

MAX_GENERATION_ID = 2**32 - 1


@dataclass(frozen=True)
class Record:
    generation_id: int
    created_at: datetime
    tenant_id: str
    voice_id: str = ""
    user_id: str = ""
    api_version: str = ""
    model: str = ""

    def visible_to(self, tenant_id: str | None, privileged: bool) -> tuple[Record, bool]:
        if privileged or (tenant_id and tenant_id == self.tenant_id):
            return self, True
        return replace(self, tenant_id="", voice_id="", user_id="", api_version="", model=""), False
