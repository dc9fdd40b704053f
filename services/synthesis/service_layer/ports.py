"""What the use cases call outside themselves, as typed ports. The adapters: `storage.repository`
(PostgreSQL), `adapters.quotas.TenancyQuotas` (tenancy), `engine.interface.VoiceEngine`,
`kit.watermark.Watermarker`, `kit.storage` and `kit.clock`; the tests' fakes live in tests/fakes/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import numpy as np
from google.protobuf.message import Message

from kit.clock import Clock
from kit.crypto.vault import DataKeyStore
from kit.events.topics import TopicSpec
from kit.paging import Page, PageRequest
from kit.storage import ObjectStore
from services.synthesis.domain.generations import Generation
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.voices import VoiceState
from services.synthesis.domain.webhooks import Delivery, Webhook
from services.synthesis.engine.interface import SpeechOptions

__all__ = ["Clock", "Marker", "ObjectStore", "Quotas", "Repository", "UnitOfWork", "VoiceEngine"]


class Quotas(Protocol):
    """Tenancy's reservations: reserve before the work, then commit what was used or release it."""

    def reserve(
        self,
        tenant_id: str,
        *,
        characters: int,
        job_slots: int,
        format: int,
        ttl_seconds: int,
        idempotency_key: str,
    ) -> str: ...

    def commit(self, reservation_id: str, characters: int = -1) -> None: ...

    def release(self, reservation_id: str) -> None: ...


class VoiceEngine(Protocol):
    """The voice engine as the use cases see it (engine.interface.VoiceEngine and its engines)."""

    name: str
    languages: tuple[str, ...]

    def build_voice(self, references: list[np.ndarray], transcript: str | None = None) -> bytes: ...

    def load_voice(self, artifact: bytes) -> object: ...

    def synthesize(
        self, text: str, voice: object = None, options: SpeechOptions | None = None, max_chars: int = ...
    ) -> Iterator[np.ndarray]: ...

    def output_rate(self, options: SpeechOptions) -> int: ...


class Marker(Protocol):
    """The watermark embedder (kit.watermark.Watermarker)."""

    def embed(
        self,
        samples: np.ndarray,
        sample_rate: int,
        generation_id: int,
        strength_db: float | None = None,
        first_slot: int = 0,
    ) -> np.ndarray: ...


class Repository(Protocol):
    """The synthesis schema inside one transaction, and the outbox staged in it."""

    # voices
    def voice(self, voice_id: str, for_update: bool = False) -> VoiceState | None: ...
    def save_voice(self, voice: VoiceState) -> None: ...

    # generations
    def next_generation_id(self) -> int: ...
    def add_generation(self, generation: Generation) -> None: ...
    def job_has_generation(self, job_id: str) -> bool: ...

    # jobs
    def add_job(self, job: Job) -> Job: ...
    def job(self, job_id: str, tenant_id: str | None = None, for_update: bool = False) -> Job | None: ...
    def job_by_key(self, tenant_id: str, idempotency_key: str) -> Job | None: ...
    def save_job(self, job: Job) -> Job: ...
    def list_jobs(self, tenant_id: str, state: str | None, page: PageRequest) -> Page[Job]: ...

    # webhooks and their deliveries
    def add_webhook(self, webhook: Webhook) -> Webhook: ...
    def webhook(self, webhook_id: str, tenant_id: str | None = None, for_update: bool = False) -> Webhook | None: ...
    def list_webhooks(self, tenant_id: str, page: PageRequest) -> Page[Webhook]: ...
    def active_webhooks(self, tenant_id: str, event: str) -> list[Webhook]: ...
    def save_webhook(self, webhook: Webhook) -> None: ...
    def add_delivery(self, delivery: Delivery) -> None: ...
    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]: ...
    def save_delivery(self, delivery: Delivery) -> None: ...

    # events, committed with the rows
    def stage(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> None: ...

    # the voices' wrapped data keys (artifacts are sealed with them; deleting one shreds the artifact)
    @property
    def data_keys(self) -> DataKeyStore: ...


class VoiceSamples(Protocol):
    """A voice's enrollment samples in plaintext, for its build (adapter: adapters.samples.EmbeddingSamples:
    the embedding service holds their key and serves them over gRPC)."""

    def read(self, voice_id: str, object_key: str) -> bytes:
        """Raises kit.storage.ObjectNotFound once the voice is deleted or its consent revoked."""
        ...


class UnitOfWork(Protocol):
    def begin(self) -> AbstractContextManager[Repository]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        ...

    def read(self) -> AbstractContextManager[Repository]:
        """Reads only."""
        ...
