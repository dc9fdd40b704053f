"""Tenancy's unit of work in memory: tenants, API keys, reservations, usage and the staged events.

A transaction that raises leaves the state as it was (like a rollback), so refusal paths can be
checked by looking at what stayed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from google.protobuf.message import Message

from kit.clock import Clock
from kit.events.topics import TopicSpec
from kit.paging import PageRequest
from services.tenancy.domain.accounts import ApiKey, Tenant
from services.tenancy.domain.billing import BillingStanding
from services.tenancy.domain.quota import UsageSnapshot
from services.tenancy.domain.reservations import Reservation
from services.tenancy.domain.tokens import TokenClaims


@dataclass
class TenancyState:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    characters_used: dict[tuple[str, str], int] = field(default_factory=dict)
    voice_slots: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, str, Message]] = field(default_factory=list)  # (topic, key, payload)


class FakeAccounts:
    def __init__(self, state: TenancyState, clock: Clock) -> None:
        self.state = state
        self.clock = clock

    def add_tenant(self, tenant_id: str, name: str, tier: str) -> Tenant:
        tenant = Tenant(tenant_id, name, tier, self.clock.now())
        self.state.tenants[tenant_id] = tenant
        return tenant

    def get_tenant(self, tenant_id: str, for_update: bool = False) -> Tenant | None:
        return self.state.tenants.get(tenant_id)

    def change_tier(self, tenant_id: str, tier: str) -> Tenant:
        tenant = self.state.tenants[tenant_id] = replace(self.state.tenants[tenant_id], tier=tier)
        return tenant

    def set_billing(self, tenant_id: str, standing: BillingStanding) -> Tenant:
        tenant = self.state.tenants[tenant_id] = replace(self.state.tenants[tenant_id], billing=standing)
        return tenant

    def add_api_key(self, key_id: str, tenant_id: str, prefix: str, key_hash: str, name: str) -> ApiKey:
        key = ApiKey(key_id, tenant_id, prefix, key_hash, name, self.clock.now())
        self.state.api_keys[key_id] = key
        return key

    def find_api_key(self, prefix: str) -> ApiKey | None:
        return next((k for k in self.state.api_keys.values() if k.prefix == prefix), None)

    def tenant_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        key = self.state.api_keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    def list_api_keys(self, tenant_id: str, page: PageRequest) -> list[ApiKey]:
        keys = sorted(
            (k for k in self.state.api_keys.values() if k.tenant_id == tenant_id), key=lambda k: (k.created_at, k.id)
        )
        if page.after is not None:
            after = (page.after.created_at, page.after.id)
            keys = [k for k in keys if (k.created_at, k.id) > after]
        return keys[: page.fetch]

    def revoke_api_key(self, key_id: str) -> ApiKey:
        key = self.state.api_keys[key_id]
        if key.revoked_at is None:
            key = self.state.api_keys[key_id] = replace(key, revoked_at=self.clock.now())
        return key

    def touch_api_key(self, key_id: str) -> None:
        key = self.state.api_keys[key_id]
        self.state.api_keys[key_id] = replace(key, last_used_at=self.clock.now())


class FakeReservations:
    def __init__(self, state: TenancyState, clock: Clock) -> None:
        self.state = state
        self.clock = clock

    def _live(self, tenant_id: str, now: datetime) -> list[Reservation]:
        return [r for r in self.state.reservations.values() if r.tenant_id == tenant_id and r.live(now)]

    def snapshot(self, tenant_id: str, period: str, now: datetime) -> UsageSnapshot:
        live = self._live(tenant_id, now)
        slots = sum(1 for tenant, _ in self.state.voice_slots if tenant == tenant_id)
        return UsageSnapshot(
            characters_used=self.state.characters_used.get((tenant_id, period), 0),
            characters_reserved=sum(r.characters for r in live if r.period == period),
            voice_profiles_used=slots + sum(r.voice_profiles for r in live),
            jobs_running=sum(r.job_slots for r in live),
        )

    def find_by_idempotency(self, tenant_id: str, key: str) -> Reservation | None:
        return next(
            (r for r in self.state.reservations.values() if r.tenant_id == tenant_id and r.idempotency_key == key),
            None,
        )

    def add(self, reservation: Reservation) -> Reservation:
        self.state.reservations[reservation.id] = reservation
        return reservation

    def get_for_update(self, reservation_id: str) -> Reservation | None:
        return self.state.reservations.get(reservation_id)

    def finish(self, reservation_id: str, status: str, characters: int | None = None) -> None:
        held = self.state.reservations[reservation_id]
        self.state.reservations[reservation_id] = replace(
            held, status=status, characters=held.characters if characters is None else characters
        )

    def add_characters(self, tenant_id: str, period: str, characters: int) -> None:
        used = self.state.characters_used
        used[(tenant_id, period)] = used.get((tenant_id, period), 0) + characters

    def add_voice_slot(self, tenant_id: str, voice_id: str) -> None:
        self.state.voice_slots.add((tenant_id, voice_id))

    def remove_voice_slot(self, tenant_id: str, voice_id: str) -> int:
        present = (tenant_id, voice_id) in self.state.voice_slots
        self.state.voice_slots.discard((tenant_id, voice_id))
        return int(present)

    def sweep_expired(self, now: datetime) -> int:
        lapsed = [r for r in self.state.reservations.values() if r.status == "active" and r.expires_at <= now]
        for held in lapsed:
            self.state.reservations[held.id] = replace(held, status="expired")
        return len(lapsed)


class FakeOutbox:
    def __init__(self, state: TenancyState) -> None:
        self.state = state

    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        self.state.events.append((topic.name, key, payload))
        return f"event-{len(self.state.events)}"


class FakeTransaction:
    def __init__(self, state: TenancyState, clock: Clock) -> None:
        self.accounts = FakeAccounts(state, clock)
        self.reservations = FakeReservations(state, clock)
        self.outbox = FakeOutbox(state)


class FakeTenancyUnitOfWork:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.state = TenancyState()
        self.commits = 0

    @contextmanager
    def begin(self) -> Iterator[FakeTransaction]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeTransaction(self.state, self.clock)
        except BaseException:
            self.state.__dict__.update(before.__dict__)  # roll back, keeping the object tests hold
            raise
        self.commits += 1

    @contextmanager
    def read(self) -> Iterator[FakeTransaction]:
        yield FakeTransaction(self.state, self.clock)

    def event_types(self) -> list[str]:
        return [payload.DESCRIPTOR.name for _, _, payload in self.state.events]


class FakeTokenSigner:
    """Signs nothing: the token is a readable record of its claims, which tests can look up."""

    def __init__(self) -> None:
        self.signed: dict[str, TokenClaims] = {}

    def sign(self, claims: TokenClaims) -> str:
        token = f"token-{len(self.signed) + 1}"
        self.signed[token] = claims
        return token

    def jwks(self) -> dict:
        return {"keys": [{"kid": "fake", "kty": "OKP", "crv": "Ed25519"}]}
