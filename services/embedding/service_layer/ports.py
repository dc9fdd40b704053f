"""What the embedding use cases need from outside, as typing.Protocols (adapters: storage/, kit, encoders/;
fakes: tests/fakes/)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

import numpy as np
from google.protobuf.message import Message

from kit.audio.vad import SpeechMap
from kit.clock import Clock
from kit.crypto.vault import DataKeyStore
from kit.events.topics import TopicSpec
from kit.paging import PageRequest
from kit.storage import ObjectStore
from services.embedding.domain.audit import AuditEvent
from services.embedding.domain.duplicates import Match
from services.embedding.domain.owner_link import MonthlyGenerations
from services.embedding.domain.voice import Challenge, Consent, Sample, Voice

__all__ = [
    "Clock",
    "DataKeyStore",
    "EventOutbox",
    "ObjectStore",
    "PhraseRecogniser",
    "Quotas",
    "SpeakerIndexPort",
    "TenantDirectory",
    "Transaction",
    "UnitOfWork",
    "VoiceActivity",
    "VoiceRepository",
    "VoiceUsage",
    "WatermarkDetector",
]


class Quotas(Protocol):
    """Tenancy's voice-profile reservations: reserve at enrollment, commit when embedded, release on
    rejection; the profile is given back when the voice is deleted (adapter: adapters/quotas.py)."""

    def reserve(
        self, tenant_id: str, *, voice_profiles: int, voice_id: str, idempotency_key: str, ttl_seconds: int
    ) -> str: ...

    def commit(self, reservation_id: str) -> None: ...

    def release(self, reservation_id: str) -> None:
        """Releasing an unknown or finished reservation is not an error (releases are retried)."""

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None: ...


class VoiceRepository(Protocol):
    """Voices, their samples, consent challenges and consents (adapter: storage.repository)."""

    def add_voice(self, voice: Voice) -> Voice: ...

    def save_voice(self, voice: Voice) -> None:
        """Writes the voice's status, analysis and embedding fields."""

    def voice(
        self, voice_id: str, tenant_id: str | None = None, for_update: bool = False, include_deleted: bool = False
    ) -> Voice | None:
        """A voice that is not deleted (unless include_deleted); with tenant_id, only that tenant's.
        Malformed ids: None."""

    def reservation_of(self, voice_id: str) -> str | None:
        """The voice's quota reservation, whatever its status (deleted voices included)."""

    def voice_by_idempotency(self, tenant_id: str, key: str) -> Voice | None: ...

    def list_voices(self, tenant_id: str, page: PageRequest) -> list[Voice]:
        """Up to `page.fetch` voices after `page.after`, oldest first."""

    def add_sample(self, sample: Sample) -> None: ...

    def samples(self, voice_id: str) -> list[Sample]: ...

    def add_challenge(self, challenge: Challenge) -> Challenge: ...

    def challenge(self, challenge_id: str, voice_id: str, for_update: bool = True) -> Challenge | None: ...

    def use_challenge(self, challenge_id: str, at: datetime) -> None: ...

    def add_consent(self, consent: Consent) -> Consent: ...

    def active_consent(self, voice_id: str, at: datetime) -> Consent | None: ...

    def latest_consent(self, voice_id: str) -> Consent | None: ...

    def revoke_consents(self, voice_id: str, at: datetime) -> list[Consent]:
        """Revokes the voice's unrevoked consents and returns them, newest first."""

    def consent_by_owner_token(self, token_hash: str, for_update: bool = False) -> Consent | None:
        """The consent whose owner link's token has this SHA-256 (hex), whatever its state."""

    def set_owner_token(self, consent_id: str, token_hash: str) -> None:
        """Replaces the consent's owner-link digest: the previous token no longer finds it."""


class TenantDirectory(Protocol):
    """Tenancy as the owner link sees it: a tenant's display name (adapter: adapters/owner_view.py)."""

    def tenant_name(self, tenant_id: str) -> str: ...


class VoiceUsage(Protocol):
    """Billing's usage analytics of one voice (adapter: adapters/owner_view.py). Raises
    kit.errors.Unavailable when billing cannot answer: the owner link then fails rather than show zeros."""

    def monthly(self, tenant_id: str, voice_id: str, first: date, last: date) -> list[MonthlyGenerations]:
        """The voice's generations per calendar month of the days first..last (months without any may
        be left out)."""


class AuditLog(Protocol):
    """The append-only audit log (adapter: storage.audit.SqlAuditLog): entries are added in the action's
    transaction and never changed."""

    def append(self, event: AuditEvent) -> None: ...

    def list(self, tenant_id: str, page: PageRequest, voice_id: str | None = None) -> list[AuditEvent]:
        """Up to `page.fetch` of the tenant's entries before the cursor's event id, newest first."""


class EventOutbox(Protocol):
    """Events staged in the transaction; they are published only if it commits (adapter: kit.events.outbox)."""

    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str: ...

    def add_tombstone(self, topic: TopicSpec, key: str) -> None: ...


class Transaction(Protocol):
    """One unit of work in progress: its changes and staged events commit together."""

    @property
    def voices(self) -> VoiceRepository: ...

    @property
    def outbox(self) -> EventOutbox: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def data_keys(self) -> DataKeyStore:
        """The voices' wrapped data keys (samples and consent recordings are sealed with them)."""


class UnitOfWork(Protocol):
    def begin(self) -> AbstractContextManager[Transaction]:
        """Commits when the block ends, rolls back if it raises."""

    def read(self) -> AbstractContextManager[Transaction]:
        """Reads only; nothing is committed."""


class SpeakerIndexPort(Protocol):
    """This replica's FAISS index of every tenant's voices (adapter: index.speaker_index.SpeakerIndex)."""

    def search(self, vector: np.ndarray, threshold: float, k: int = 10) -> list[Match]: ...

    def remove(self, voice_id: str) -> bool: ...


class VoiceActivity(Protocol):
    """Where the speech is in 16 kHz mono samples (adapter: kit.audio.vad.SileroVad)."""

    def analyse(self, samples: np.ndarray) -> SpeechMap: ...


class WatermarkVerdict(Protocol):
    @property
    def watermarked(self) -> bool: ...


class WatermarkDetector(Protocol):
    """Finds Timbre's own watermark (adapter: kit.watermark.Watermarker with the deployment's key)."""

    def detect(self, samples: np.ndarray, sample_rate: int) -> WatermarkVerdict: ...


class PhraseRecogniser(Protocol):
    """Closed-set recognition of a spoken phrase (adapter: kit.audio.asr.recognise_slots)."""

    def __call__(
        self, samples_16k: np.ndarray, prefix: list[str], vocabulary: tuple[str, ...], slots: int
    ) -> list[str]: ...
