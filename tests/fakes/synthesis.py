"""The synthesis service's ports in memory: quotas, repository / unit of work, and the webhook sender."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from google.protobuf.message import Message

from kit.clock import Clock
from kit.crypto import WrappedKey
from kit.events.topics import TopicSpec
from kit.paging import Cursor, Page, PageRequest, page_of
from kit.storage import ObjectStore
from services.synthesis.domain.generations import Generation
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.voices import VoiceState
from services.synthesis.domain.webhooks import Delivery, Webhook
from tests.fakes.data_keys import FakeDataKeys


def finished_job(tenant_id: str, tier: int = 1) -> Job:
    """A succeeded five-character job with fresh ids: what a webhook delivery needs to stage."""
    return Job(
        job_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        voice_id=str(uuid.uuid4()),
        user_id="",
        tier=tier,
        state="succeeded",
        characters=5,
        language="en",
        format="wav",
        speed=1.0,
        pitch=0.0,
        sample_rate=24000,
        text_key="",
        reservation_id="",
    )


class FakeQuotas:
    """Records every call; `refuse` makes the next reserve raise it."""

    def __init__(self) -> None:
        self.reserved: list[tuple[str, dict]] = []
        self.committed: list[str] = []
        self.committed_characters: dict[str, int] = {}  # what a commit named, when not the reserved amount
        self.released: list[str] = []
        self.refuse: Exception | None = None

    def reserve(
        self, tenant_id: str, *, characters: int, job_slots: int, format: int, ttl_seconds: int, idempotency_key: str
    ) -> str:
        if self.refuse is not None:
            raise self.refuse
        amounts = {"characters": characters, "job_slots": job_slots, "format": format, "ttl_seconds": ttl_seconds}
        self.reserved.append((tenant_id, amounts))
        return f"r{len(self.reserved)}"

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        self.committed.append(reservation_id)
        if characters >= 0:
            self.committed_characters[reservation_id] = characters

    def release(self, reservation_id: str) -> None:
        self.released.append(reservation_id)


@dataclass
class Tables:
    """What a FakeUnitOfWork holds; it survives transactions (rows are immutable dataclasses)."""

    voices: dict[str, VoiceState] = field(default_factory=dict)
    generations: dict[int, Generation] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    events: list[tuple[str, str, Message]] = field(default_factory=list)  # (topic, key, payload), committed
    next_id: int = 2**31
    data_keys: dict[str, WrappedKey] = field(default_factory=dict)


class FakeRepository:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self.t = tables
        self.clock = clock
        self.staged: list[tuple[str, str, Message]] = []
        self.data_keys = FakeDataKeys(tables.data_keys)

    def voice(self, voice_id: str, for_update: bool = False) -> VoiceState | None:
        return self.t.voices.get(voice_id)

    def save_voice(self, voice: VoiceState) -> None:
        self.t.voices[voice.voice_id] = voice

    def next_generation_id(self) -> int:
        self.t.next_id += 1
        return self.t.next_id - 1

    def add_generation(self, generation: Generation) -> None:
        assert generation.generation_id not in self.t.generations
        self.t.generations[generation.generation_id] = generation

    def job_has_generation(self, job_id: str) -> bool:
        return any(g.job_id == job_id for g in self.t.generations.values())

    def add_job(self, job: Job) -> Job:
        # Ids and times as the table gives them: distinct, in the order of adding.
        now = self.clock.now()
        job = replace(job, created_at=now, updated_at=now)
        self.t.jobs[job.job_id] = job
        return job

    def job(self, job_id: str, tenant_id: str | None = None, for_update: bool = False) -> Job | None:
        job = self.t.jobs.get(job_id)
        return job if job is not None and tenant_id in (None, job.tenant_id) else None

    def job_by_key(self, tenant_id: str, idempotency_key: str) -> Job | None:
        return next(
            (j for j in self.t.jobs.values() if j.tenant_id == tenant_id and j.idempotency_key == idempotency_key),
            None,
        )

    def save_job(self, job: Job) -> Job:
        job = replace(job, updated_at=self.clock.now())
        self.t.jobs[job.job_id] = job
        return job

    def list_jobs(self, tenant_id: str, state: str | None, page: PageRequest) -> Page[Job]:
        rows = [j for j in self.t.jobs.values() if j.tenant_id == tenant_id and state in (None, j.state)]
        return _page(rows, page, lambda j: Cursor(_at(j.created_at), j.job_id))

    def add_webhook(self, webhook: Webhook) -> Webhook:
        webhook = replace(webhook, created_at=self.clock.now())
        self.t.webhooks[webhook.webhook_id] = webhook
        return webhook

    def webhook(self, webhook_id: str, tenant_id: str | None = None, for_update: bool = False) -> Webhook | None:
        hook = self.t.webhooks.get(webhook_id)
        ok = hook is not None and hook.deleted_at is None and tenant_id in (None, hook.tenant_id)
        return hook if ok else None

    def list_webhooks(self, tenant_id: str, page: PageRequest) -> Page[Webhook]:
        rows = [w for w in self.t.webhooks.values() if w.tenant_id == tenant_id and w.deleted_at is None]
        return _page(rows, page, lambda w: Cursor(_at(w.created_at), w.webhook_id))

    def active_webhooks(self, tenant_id: str, event: str) -> list[Webhook]:
        return [
            w
            for w in self.t.webhooks.values()
            if w.tenant_id == tenant_id and w.deleted_at is None and not w.disabled and event in w.events
        ]

    def save_webhook(self, webhook: Webhook) -> None:
        self.t.webhooks[webhook.webhook_id] = webhook

    def add_delivery(self, delivery: Delivery) -> None:
        self.t.deliveries[delivery.delivery_id] = delivery

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        due = [
            d
            for d in self.t.deliveries.values()
            if d.delivered_at is None and d.abandoned_at is None and (d.next_attempt_at or now) <= now
        ]
        return due[:limit]

    def save_delivery(self, delivery: Delivery) -> None:
        self.t.deliveries[delivery.delivery_id] = delivery

    def stage(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> None:
        self.staged.append((topic.name, key, payload))


def _at(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment


def _page(rows: list, page: PageRequest, cursor_of) -> Page:
    """Newest first by (created_at, id), after the cursor, size + 1 rows: as the SQL repository reads."""
    ordered = sorted(rows, key=lambda r: (cursor_of(r).created_at, cursor_of(r).id), reverse=True)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        ordered = [r for r in ordered if (cursor_of(r).created_at, cursor_of(r).id) < after]
    return page_of(ordered[: page.fetch], page, cursor_of)


class FakeUnitOfWork:
    """Commits a transaction's staged events when its block ends without an error. (Row changes apply at
    once: the use cases never rely on a rollback of rows, only of what they announce.)"""

    def __init__(self, clock: Clock) -> None:
        self.tables = Tables()
        self.clock = clock
        self.commits = 0

    @contextmanager
    def begin(self) -> Iterator[FakeRepository]:
        repo = FakeRepository(self.tables, self.clock)
        yield repo
        self.tables.events.extend(repo.staged)
        self.commits += 1

    @contextmanager
    def read(self) -> Iterator[FakeRepository]:
        yield FakeRepository(self.tables, self.clock)

    def joined(self) -> FakeRepository:
        """A transaction the event consumer opened; commit with `commit(repo)`."""
        return FakeRepository(self.tables, self.clock)

    def commit(self, repo: FakeRepository) -> None:
        self.tables.events.extend(repo.staged)

    def event_types(self) -> list[str]:
        return [type(payload).__name__ for _, _, payload in self.tables.events]


class FakeSender:
    """A webhook endpoint that answers with the next of `outcomes` (None: accepted)."""

    timeout_seconds = 1.0

    def __init__(self, *outcomes: str | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        self.sent.append((url, body, headers))
        return self.outcomes.pop(0) if self.outcomes else None

    def close(self) -> None:
        pass


class StoredSamples:
    """The VoiceSamples port over a fake store holding the samples as written (the embedding service's
    decryption is not synthesis's concern); deleted samples answer ObjectNotFound like the real adapter."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, voice_id: str, object_key: str) -> bytes:
        return self.store.get(object_key)
