"""When a voice may speak: built, not deleted, not revoked, and under an active consent.

The voice's status (building, ready, failed) belongs to the embedding service, which hears of every
build's outcome; synthesis keeps only what it needs to speak with a voice and to refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.errors import FailedPrecondition


@dataclass(frozen=True)
class VoiceState:
    voice_id: str
    tenant_id: str
    artifact_key: str = ""  # empty until a build succeeded (and again after a failed rebuild)
    engine: str = ""
    built_at: datetime | None = None  # tells a rebuilt artifact (same key) from the one cached before
    consent_id: str | None = None
    consent_expires_at: datetime | None = None
    revoked: bool = False  # consent revoked: the model is gone for good
    deleted: bool = False

    @property
    def built(self) -> bool:
        return bool(self.artifact_key)

    @property
    def artifact_version(self) -> str:
        """Names one build of the artifact: a rebuild keeps the key but not the version."""
        return f"{self.artifact_key}@{self.built_at.isoformat() if self.built_at else ''}"

    def check_can_speak(self, now: datetime) -> None:
        """Raises the reason this voice cannot speak now; a deleted voice is the caller's NotFound."""
        if self.revoked:
            raise FailedPrecondition(
                "consent for this voice was revoked and its model deleted; enroll it again", reason="CONSENT_REQUIRED"
            )
        if not self.built:
            raise FailedPrecondition(
                "the voice is not built: it is still being built or its build failed (its status says which)",
                reason="VOICE_NOT_READY",
            )
        if self.consent_id is None:
            raise FailedPrecondition(
                "the voice has no active consent: record the owner's spoken consent or an "
                "operator's written consent first",
                reason="CONSENT_REQUIRED",
            )
        if self.consent_expires_at is not None and self.consent_expires_at <= now:
            raise FailedPrecondition("the voice's consent has expired", reason="CONSENT_REQUIRED")
