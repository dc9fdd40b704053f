"""Tenants and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row

from kit.db.engine import UnitOfWork
from kit.errors import InvalidArgument, NotFound, Unauthenticated
from kit.events.outbox import Outbox
from kit.events.topics import TENANT_EVENTS
from kit.ids import is_uuid
from services.tenancy.domain import api_keys as keys
from services.tenancy.domain.tiers import TIERS
from services.tenancy.storage import repository as repo
from timbre.v1 import events_pb2


@dataclass(frozen=True)
class IssuedKey:
    row: Row
    secret: str


class Accounts:
    def __init__(self, uow: UnitOfWork, outbox: Outbox, tier_codes: dict[str, int]) -> None:
        self.uow = uow
        self.outbox = outbox
        self._tier_codes = tier_codes

    def create_tenant(self, name: str, tier: str) -> tuple[Row, IssuedKey]:
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise InvalidArgument("name must be 1–200 characters")
        if tier not in TIERS:
            raise InvalidArgument(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
        tenant_id = str(uuid.uuid4())
        with self.uow.begin() as conn:
            tenant = repo.add_tenant(conn, tenant_id, name, tier)
            issued = self._add_key(conn, tenant_id, "default")
            self.outbox.add(
                conn,
                TENANT_EVENTS,
                tenant_id,
                events_pb2.TenantCreated(tenant_id=tenant_id, name=name, tier=self._tier_codes[tier]),
                tenant_id=tenant_id,
            )
        return tenant, issued

    def get_tenant(self, tenant_id: str) -> Row:
        with self.uow.read() as conn:
            tenant = repo.get_tenant(conn, tenant_id) if is_uuid(tenant_id) else None
        if tenant is None:
            raise NotFound("tenant not found")
        return tenant

    def create_api_key(self, tenant_id: str, name: str) -> IssuedKey:
        if len(name or "") > 200:
            raise InvalidArgument("name must be at most 200 characters")
        with self.uow.begin() as conn:
            if repo.get_tenant(conn, tenant_id) is None:
                raise NotFound("tenant not found")
            return self._add_key(conn, tenant_id, name or "")

    def _add_key(self, conn, tenant_id: str, name: str) -> IssuedKey:
        new = keys.generate()
        row = repo.add_api_key(conn, str(uuid.uuid4()), tenant_id, new.prefix, new.hash, name)
        return IssuedKey(row, new.secret)

    def list_api_keys(self, tenant_id: str, cursor: tuple[datetime, str] | None, limit: int) -> list[Row]:
        with self.uow.read() as conn:
            after_created, after_id = cursor if cursor else (None, "")
            return repo.list_api_keys(conn, tenant_id, after_created, after_id, limit)

    def revoke_api_key(self, tenant_id: str, key_id: str) -> Row:
        with self.uow.begin() as conn:
            # Another tenant's key id is indistinguishable from an unknown one.
            row = repo.tenant_api_key(conn, tenant_id, key_id) if is_uuid(key_id) else None
            if row is None:
                raise NotFound("API key not found")
            revoked = repo.revoke_api_key(conn, key_id)
            if row.revoked_at is None:
                self.outbox.add(
                    conn,
                    TENANT_EVENTS,
                    tenant_id,
                    events_pb2.ApiKeyRevoked(tenant_id=tenant_id, key_id=key_id),
                    tenant_id=tenant_id,
                )
        return revoked

    def authenticate(self, secret: str) -> tuple[Row, Row]:
        """The (key, tenant) of a valid, unrevoked API key; UNAUTHENTICATED otherwise."""
        prefix = keys.parse_prefix(secret)
        if prefix is None:
            raise Unauthenticated("malformed API key")
        with self.uow.begin() as conn:
            row = repo.find_api_key(conn, prefix)
            if row is None or not keys.matches(secret, row.key_hash):
                raise Unauthenticated("invalid API key")
            if row.revoked_at is not None:
                raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
            repo.touch_api_key(conn, row.id)
            tenant = repo.get_tenant(conn, row.tenant_id)
        return row, tenant
