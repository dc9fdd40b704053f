"""Embedding's unit of work in memory: the voice repository and the outbox, with commit and rollback."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from kit.crypto import WrappedKey
from kit.events.topics import TopicSpec
from kit.paging import PageRequest
from services.embedding.domain.audit import AuditEvent
from services.embedding.domain.voice import DELETED, Challenge, Consent, Sample, Voice
from tests.fakes.audit import FakeAuditLog
from tests.fakes.clock import FakeClock
from tests.fakes.data_keys import FakeDataKeys

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class StagedEvent:
    topic: str
    key: str
    payload: Message | None  # None: a tombstone
    tenant_id: str = ""


@dataclass
class EmbeddingState:
    voices: dict[str, Voice] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)
    consents: list[Consent] = field(default_factory=list)
    events: list[StagedEvent] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    data_keys: dict[str, WrappedKey] = field(default_factory=dict)


class FakeVoiceRepository:
    def __init__(self, state: EmbeddingState, clock: FakeClock) -> None:
        self.state = state
        self.clock = clock

    def add_voice(self, voice: Voice) -> Voice:
        stored = replace(voice, created_at=self.clock.now(), updated_at=self.clock.now())
        self.state.voices[voice.id] = stored
        return stored

    def save_voice(self, voice: Voice) -> None:
        self.state.voices[voice.id] = replace(voice, updated_at=self.clock.now())

    def voice(
        self, voice_id: str, tenant_id: str | None = None, for_update: bool = False, include_deleted: bool = False
    ) -> Voice | None:
        voice = self.state.voices.get(voice_id)
        if (
            voice is None
            or (voice.status == DELETED and not include_deleted)
            or tenant_id not in (None, voice.tenant_id)
        ):
            return None
        return voice

    def reservation_of(self, voice_id: str) -> str | None:
        voice = self.state.voices.get(voice_id)
        return voice.reservation_id if voice else None

    def voice_by_idempotency(self, tenant_id: str, key: str) -> Voice | None:
        found = [v for v in self.state.voices.values() if (v.tenant_id, v.idempotency_key) == (tenant_id, key)]
        return found[0] if found and found[0].status != DELETED else None

    def list_voices(self, tenant_id: str, page: PageRequest) -> list[Voice]:
        mine = sorted(
            (v for v in self.state.voices.values() if v.tenant_id == tenant_id and v.status != DELETED),
            key=lambda v: (v.created_at, v.id),
        )
        if page.after is not None:
            after = (page.after.created_at, page.after.id)
            mine = [v for v in mine if (v.created_at, v.id) > after]
        return mine[: page.fetch]

    def add_sample(self, sample: Sample) -> None:
        self.state.samples.setdefault(sample.voice_id, []).append(sample)

    def samples(self, voice_id: str) -> list[Sample]:
        return sorted(self.state.samples.get(voice_id, []), key=lambda s: s.index)

    def add_challenge(self, challenge: Challenge) -> Challenge:
        self.state.challenges[challenge.id] = challenge
        return challenge

    def challenge(self, challenge_id: str, voice_id: str, for_update: bool = True) -> Challenge | None:
        challenge = self.state.challenges.get(challenge_id)
        return challenge if challenge and challenge.voice_id == voice_id else None

    def use_challenge(self, challenge_id: str, at: datetime) -> None:
        self.state.challenges[challenge_id] = replace(self.state.challenges[challenge_id], used_at=at)

    def add_consent(self, consent: Consent) -> Consent:
        stored = replace(consent, created_at=self.clock.now(), owner_token=None)  # the token is never stored
        self.state.consents.append(stored)
        return stored

    def _of(self, voice_id: str) -> list[Consent]:
        return sorted((c for c in self.state.consents if c.voice_id == voice_id), key=lambda c: c.created_at)[::-1]

    def active_consent(self, voice_id: str, at: datetime) -> Consent | None:
        active = [c for c in self._of(voice_id) if c.revoked_at is None and c.expires_at > at]
        return active[0] if active else None

    def latest_consent(self, voice_id: str) -> Consent | None:
        consents = self._of(voice_id)
        return consents[0] if consents else None

    def consent_by_owner_token(self, token_hash: str, for_update: bool = False) -> Consent | None:
        found = [c for c in self.state.consents if c.owner_token_hash == token_hash]
        return found[0] if found else None

    def set_owner_token(self, consent_id: str, token_hash: str) -> None:
        for i, consent in enumerate(self.state.consents):
            if consent.id == consent_id:
                self.state.consents[i] = replace(consent, owner_token_hash=token_hash)

    def revoke_consents(self, voice_id: str, at: datetime) -> list[Consent]:
        revoked = []
        for i, consent in enumerate(self.state.consents):
            if consent.voice_id == voice_id and consent.revoked_at is None:
                self.state.consents[i] = replace(consent, revoked_at=at)
                revoked.append(self.state.consents[i])
        return sorted(revoked, key=lambda c: c.created_at, reverse=True)


class FakeOutbox:
    def __init__(self, state: EmbeddingState) -> None:
        self.state = state

    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        self.state.events.append(StagedEvent(topic.name, key, payload, tenant_id))
        return f"event-{len(self.state.events)}"

    def add_tombstone(self, topic: TopicSpec, key: str) -> None:
        self.state.events.append(StagedEvent(topic.name, key, None))


class FakeTransaction:
    def __init__(self, state: EmbeddingState, clock: FakeClock) -> None:
        self.voices = FakeVoiceRepository(state, clock)
        self.outbox = FakeOutbox(state)
        self.audit = FakeAuditLog(state.audit, clock)
        self.data_keys = FakeDataKeys(state.data_keys)


class FakeUnitOfWork:
    """Changes made in `begin()` are kept only if the block ends normally (or `fail_commit` is unset)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.state = EmbeddingState()
        self.commits = 0
        self.fail_commit: Exception | None = None  # set to make the next commit fail (compensation paths)

    @contextmanager
    def begin(self) -> Iterator[FakeTransaction]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeTransaction(self.state, self.clock)
            if self.fail_commit is not None:
                error, self.fail_commit = self.fail_commit, None
                raise error
        except BaseException:
            self.state.__dict__.update(before.__dict__)
            raise
        self.commits += 1

    @contextmanager
    def read(self) -> Iterator[FakeTransaction]:
        yield FakeTransaction(self.state, self.clock)

    def events(self, kind: type[M]) -> list[M]:
        """Committed event payloads of one message type, oldest first."""
        return [e.payload for e in self.state.events if isinstance(e.payload, kind)]
