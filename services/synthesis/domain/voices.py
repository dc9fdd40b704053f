"""When a voice may speak: built, not deleted, and under an active consent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.errors import FailedPrecondition


@dataclass(frozen=True)
class VoiceState:
    voice_id: str
    tenant_id: str
    status: str  # building | ready | failed | disabled | deleted
    artifact_key: str
    engine: str
    consent_id: str | None
    consent_expires_at: datetime | None
    failure_reason: str = ""
    failure_detail: str = ""

    def check_can_speak(self, now: datetime) -> None:
        """Raises the reason this voice cannot speak now; a deleted voice is the caller's NotFound."""
        if self.status == "building":
            raise FailedPrecondition(
                "the voice is still being built; try again when its status is ready", reason="VOICE_NOT_READY"
            )
        if self.status == "failed":
            raise FailedPrecondition(
                f"the voice could not be built: {self.failure_detail or self.failure_reason}", reason="VOICE_NOT_READY"
            )
        if self.status == "disabled":
            raise FailedPrecondition(
                "consent for this voice was revoked and its model deleted; enroll it again", reason="CONSENT_REQUIRED"
            )
        if self.consent_id is None:
            raise FailedPrecondition(
                "the voice has no active consent: record the owner's spoken consent or an "
                "operator's written consent first",
                reason="CONSENT_REQUIRED",
            )
        if self.consent_expires_at is not None and self.consent_expires_at <= now:
            raise FailedPrecondition("the voice's consent has expired", reason="CONSENT_REQUIRED")
