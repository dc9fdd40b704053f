"""What tenancy's use cases call outside themselves: one transaction's repositories and outbox, the
unit of work that opens it, and the access-token signer. Adapters: `services.tenancy.storage`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from google.protobuf.message import Message

from kit.events.topics import TopicSpec
from kit.paging import PageRequest
from services.tenancy.domain.accounts import ApiKey, Tenant
from services.tenancy.domain.billing import BillingStanding
from services.tenancy.domain.quota import UsageSnapshot
from services.tenancy.domain.reservations import Reservation
from services.tenancy.domain.tokens import TokenClaims


class AccountsRepository(Protocol):
    def add_tenant(self, tenant_id: str, name: str, tier: str) -> Tenant: ...

    def get_tenant(self, tenant_id: str, for_update: bool = False) -> Tenant | None:
        """`for_update` locks the tenant row: concurrent reservations of one tenant serialise on it."""
        ...

    def change_tier(self, tenant_id: str, tier: str) -> Tenant: ...

    def set_billing(self, tenant_id: str, standing: BillingStanding) -> Tenant: ...

    def add_api_key(self, key_id: str, tenant_id: str, prefix: str, key_hash: str, name: str) -> ApiKey: ...

    def find_api_key(self, prefix: str) -> ApiKey | None: ...

    def tenant_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None: ...

    def list_api_keys(self, tenant_id: str, page: PageRequest) -> list[ApiKey]:
        """Up to `page.fetch` keys after `page.after`, ordered by (created_at, id)."""
        ...

    def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revoked once: a second revocation keeps the first time."""
        ...

    def touch_api_key(self, key_id: str) -> None: ...


class ReservationsRepository(Protocol):
    def snapshot(self, tenant_id: str, period: str, now: datetime) -> UsageSnapshot:
        """Used and reserved amounts; reservations lapsed by `now` no longer count."""
        ...

    def find_by_idempotency(self, tenant_id: str, key: str) -> Reservation | None: ...

    def add(self, reservation: Reservation) -> Reservation: ...

    def get_for_update(self, reservation_id: str) -> Reservation | None: ...

    def finish(self, reservation_id: str, status: str, characters: int | None = None) -> None: ...

    def add_characters(self, tenant_id: str, period: str, characters: int) -> None: ...

    def add_voice_slot(self, tenant_id: str, voice_id: str) -> None: ...

    def remove_voice_slot(self, tenant_id: str, voice_id: str) -> int: ...

    def sweep_expired(self, now: datetime) -> int:
        """Mark reservations lapsed by `now` expired; how many were."""
        ...


class EventOutbox(Protocol):
    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        """Stage an event; it is published only if the transaction commits."""
        ...


class Transaction(Protocol):
    @property
    def accounts(self) -> AccountsRepository: ...

    @property
    def reservations(self) -> ReservationsRepository: ...

    @property
    def outbox(self) -> EventOutbox: ...


class UnitOfWork(Protocol):
    def begin(self) -> AbstractContextManager[Transaction]:
        """A transaction that commits when the block ends normally and rolls back on an exception."""
        ...

    def read(self) -> AbstractContextManager[Transaction]:
        """A read-only view (no outbox events staged through it)."""
        ...


class TokenSigner(Protocol):
    def sign(self, claims: TokenClaims) -> str: ...

    def jwks(self) -> dict:
        """The public keys that verify signed tokens (a JWKS document)."""
        ...
