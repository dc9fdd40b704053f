"""Tenants and API keys."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from kit.errors import InvalidArgument, NotFound, Unauthenticated
from kit.events.topics import TENANT_EVENTS
from kit.ids import is_uuid
from kit.paging import Cursor, Page, PageRequest, page_of
from services.tenancy.domain import api_keys as keys
from services.tenancy.domain.accounts import ApiKey, IssuedKey, Tenant
from services.tenancy.domain.tiers import TIERS
from services.tenancy.service_layer.ports import Transaction, UnitOfWork
from timbre.v1 import common_pb2, events_pb2


def _key_cursor(key: ApiKey) -> Cursor:
    return Cursor(key.created_at, key.id)


class Accounts:
    def __init__(self, uow: UnitOfWork, tier_codes: Mapping[str, common_pb2.Tier]) -> None:
        self.uow = uow
        self._tier_codes = tier_codes  # TenantCreated carries the tier as the API's enum

    def create_tenant(self, name: str, tier: str) -> tuple[Tenant, IssuedKey]:
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise InvalidArgument("name must be 1–200 characters")
        if tier not in TIERS:
            raise InvalidArgument(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
        tenant_id = str(uuid.uuid4())
        with self.uow.begin() as tx:
            tenant = tx.accounts.add_tenant(tenant_id, name, tier)
            issued = _add_key(tx, tenant_id, "default")
            tx.outbox.add(
                TENANT_EVENTS,
                tenant_id,
                events_pb2.TenantCreated(tenant_id=tenant_id, name=name, tier=self._tier_codes[tier]),
                tenant_id=tenant_id,
            )
        return tenant, issued

    def get_tenant(self, tenant_id: str) -> Tenant:
        with self.uow.read() as tx:
            tenant = tx.accounts.get_tenant(tenant_id) if is_uuid(tenant_id) else None
        if tenant is None:
            raise NotFound("tenant not found")
        return tenant

    def change_tier(self, tenant_id: str, tier: str) -> Tenant:
        """Move a tenant to another tier (its limits follow at once); billing hears of it through
        TenantTierChanged and updates the Stripe subscription. The same tier again changes nothing."""
        if tier not in TIERS:
            raise InvalidArgument(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
        with self.uow.begin() as tx:
            tenant = tx.accounts.get_tenant(tenant_id, for_update=True) if is_uuid(tenant_id) else None
            if tenant is None:
                raise NotFound("tenant not found")
            if tenant.tier == tier:
                return tenant
            changed = tx.accounts.change_tier(tenant_id, tier)
            tx.outbox.add(
                TENANT_EVENTS,
                tenant_id,
                events_pb2.TenantTierChanged(
                    tenant_id=tenant_id, tier=self._tier_codes[tier], previous_tier=self._tier_codes[tenant.tier]
                ),
                tenant_id=tenant_id,
            )
        return changed

    def create_api_key(self, tenant_id: str, name: str) -> IssuedKey:
        if len(name or "") > 200:
            raise InvalidArgument("name must be at most 200 characters")
        with self.uow.begin() as tx:
            if tx.accounts.get_tenant(tenant_id) is None:
                raise NotFound("tenant not found")
            return _add_key(tx, tenant_id, name or "")

    def list_api_keys(self, tenant_id: str, page: PageRequest) -> Page[ApiKey]:
        with self.uow.read() as tx:
            return page_of(tx.accounts.list_api_keys(tenant_id, page), page, _key_cursor)

    def revoke_api_key(self, tenant_id: str, key_id: str) -> ApiKey:
        with self.uow.begin() as tx:
            # Another tenant's key id is indistinguishable from an unknown one.
            key = tx.accounts.tenant_api_key(tenant_id, key_id) if is_uuid(key_id) else None
            if key is None:
                raise NotFound("API key not found")
            revoked = tx.accounts.revoke_api_key(key_id)
            if not key.revoked:
                tx.outbox.add(
                    TENANT_EVENTS,
                    tenant_id,
                    events_pb2.ApiKeyRevoked(tenant_id=tenant_id, key_id=key_id),
                    tenant_id=tenant_id,
                )
        return revoked

    def authenticate(self, secret: str) -> tuple[ApiKey, Tenant]:
        """The (key, tenant) of a valid, unrevoked API key; UNAUTHENTICATED otherwise."""
        prefix = keys.parse_prefix(secret)
        if prefix is None:
            raise Unauthenticated("malformed API key")
        with self.uow.begin() as tx:
            key = tx.accounts.find_api_key(prefix)
            if key is None or not keys.matches(secret, key.key_hash):
                raise Unauthenticated("invalid API key")
            if key.revoked:
                raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
            tx.accounts.touch_api_key(key.id)
            tenant = tx.accounts.get_tenant(key.tenant_id)
        if tenant is None:  # the foreign key rules this out; say so rather than sign for nobody
            raise Unauthenticated("invalid API key")
        return key, tenant


def _add_key(tx: Transaction, tenant_id: str, name: str) -> IssuedKey:
    new = keys.generate()
    key = tx.accounts.add_api_key(str(uuid.uuid4()), tenant_id, new.prefix, new.hash, name)
    return IssuedKey(key, new.secret)
