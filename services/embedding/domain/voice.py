"""A voice, its samples and its consents as the service layer sees them (repositories return these).

Status: processing → ready | rejected; ready → disabled (consent revoked); any → deleted. Embedding
owns a voice's status; synthesis's build reports back with VoiceReady / VoiceBuildFailed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

PROCESSING, READY, REJECTED, DISABLED, DELETED = "processing", "ready", "rejected", "disabled", "deleted"


@dataclass(frozen=True)
class Voice:
    id: str
    tenant_id: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    status_reason: str = ""
    status_detail: str = ""
    progress: float = 0.0
    speech_seconds: float = 0.0
    encoder: str = ""
    embedding: np.ndarray | None = None  # float32, L2-normalised; None until analysed
    transcript: str = ""
    language: str = ""
    duplicate_of: str | None = None
    reservation_id: str | None = None
    idempotency_key: str | None = None

    @property
    def awaiting_verdict(self) -> bool:
        """Still being analysed or built: the only state an analysis or build outcome may change."""
        return self.status == PROCESSING

    def rejected(self, reason: str, detail: str, speech_seconds: float | None = None) -> Voice:
        measured = self.speech_seconds if speech_seconds is None else speech_seconds
        return replace(
            self, status=REJECTED, status_reason=reason, status_detail=detail, progress=1.0, speech_seconds=measured
        )

    def embedded(
        self, embedding: np.ndarray, encoder: str, speech_seconds: float, duplicate_of: str | None, built: bool
    ) -> Voice:
        """Analysed and accepted; `built` False: the voice still waits for synthesis's build."""
        detail = f"this tenant already has the same voice: {duplicate_of}" if duplicate_of else ""
        return replace(
            self,
            status=READY if built else PROCESSING,
            status_reason="",
            status_detail=detail,
            speech_seconds=speech_seconds,
            encoder=encoder,
            embedding=embedding.astype(np.float32),
            duplicate_of=duplicate_of,
            progress=1.0 if built else 0.5,
        )

    def built(self) -> Voice:
        return replace(self, status=READY, status_reason="", progress=1.0)

    def disabled(self) -> Voice:
        """Consent revoked: the voice's data goes, its embedding too (it must be enrolled again)."""
        return replace(
            self, status=DISABLED, status_reason="CONSENT_REQUIRED", status_detail="consent was revoked", embedding=None
        )

    def deleted(self) -> Voice:
        return replace(self, status=DELETED, status_reason="", status_detail="", embedding=None)


@dataclass(frozen=True)
class Sample:
    """One uploaded file: `object_key` holds its normalised copy; the rest describes the upload."""

    voice_id: str
    index: int
    object_key: str
    filename: str
    sha256: str  # of the upload as sent
    bytes: int  # of the upload as sent
    seconds: float
    native_rate: int
    codec: str  # the upload's codec


@dataclass(frozen=True)
class Challenge:
    id: str
    voice_id: str
    tenant_id: str
    phrase: str
    language: str
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class Consent:
    id: str
    voice_id: str
    tenant_id: str
    kind: str  # spoken | written
    owner_name: str
    purpose: str
    expires_at: datetime
    prohibited_uses: list[int]
    authorized_tenant_ids: list[str]
    evidence_sha256: str
    created_at: datetime
    evidence_key: str | None = None
    speaker_score: float | None = None
    phrase_verified: bool = False
    revoked_at: datetime | None = None
    # SHA-256 (hex) of the owner link's token (domain/owner_link.py); None for consents older than links.
    owner_token_hash: str | None = None
    # The owner link's token itself, on the consent a use case just recorded only: it is never stored,
    # and never printed (repr) by accident.
    owner_token: str | None = field(default=None, repr=False, compare=False)
