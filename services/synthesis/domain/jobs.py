"""A long-form job as the service keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    job_id: str
    tenant_id: str
    voice_id: str
    user_id: str
    tier: int
    state: str  # queued → running → succeeded | failed | cancelled
    characters: int
    language: str
    format: str
    speed: float
    pitch: float
    sample_rate: int
    text_key: str
    reservation_id: str
    progress: float = 0.0
    audio_key: str = ""
    generation_id: int | None = None
    audio_seconds: float = 0.0
    attempts: int = 0
    error_reason: str = ""
    error_detail: str = ""
    idempotency_key: str | None = None
    created_at: datetime | None = None  # set by the repository when the job is added
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL
