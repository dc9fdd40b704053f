"""Tenants and API keys in PostgreSQL (SQLAlchemy Core over the transaction's connection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, tuple_, update

from kit.paging import PageRequest
from services.tenancy.domain.accounts import ApiKey, Tenant
from services.tenancy.domain.billing import BillingStanding
from services.tenancy.storage.tables import api_keys, tenants


def _tenant(row: Any) -> Tenant:
    return Tenant(
        id=row.id,
        name=row.name,
        tier=row.tier,
        created_at=row.created_at,
        billing=BillingStanding(row.billing_state, row.billing_reason, row.billing_since, row.billing_event_id),
    )


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        key_hash=row.key_hash,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlAccounts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_tenant(self, tenant_id: str, name: str, tier: str) -> Tenant:
        return _tenant(
            self.conn.execute(insert(tenants).values(id=tenant_id, name=name, tier=tier).returning(tenants)).one()
        )

    def get_tenant(self, tenant_id: str, for_update: bool = False) -> Tenant | None:
        query = select(tenants).where(tenants.c.id == tenant_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _tenant(row) if row else None

    def change_tier(self, tenant_id: str, tier: str) -> Tenant:
        return _tenant(
            self.conn.execute(
                update(tenants).where(tenants.c.id == tenant_id).values(tier=tier).returning(tenants)
            ).one()
        )

    def set_billing(self, tenant_id: str, standing: BillingStanding) -> Tenant:
        return _tenant(
            self.conn.execute(
                update(tenants)
                .where(tenants.c.id == tenant_id)
                .values(
                    billing_state=standing.state,
                    billing_reason=standing.reason,
                    billing_since=standing.since,
                    billing_event_id=standing.stripe_event_id,
                )
                .returning(tenants)
            ).one()
        )

    def add_api_key(self, key_id: str, tenant_id: str, prefix: str, key_hash: str, name: str) -> ApiKey:
        return _api_key(
            self.conn.execute(
                insert(api_keys)
                .values(id=key_id, tenant_id=tenant_id, prefix=prefix, key_hash=key_hash, name=name)
                .returning(api_keys)
            ).one()
        )

    def find_api_key(self, prefix: str) -> ApiKey | None:
        row = self.conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        return _api_key(row) if row else None

    def tenant_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        row = self.conn.execute(
            select(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id)
        ).first()
        return _api_key(row) if row else None

    def list_api_keys(self, tenant_id: str, page: PageRequest) -> list[ApiKey]:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id)
        if page.after is not None:
            query = query.where(
                tuple_(api_keys.c.created_at, api_keys.c.id) > tuple_(page.after.created_at, page.after.id)
            )
        rows = self.conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id).limit(page.fetch))
        return [_api_key(row) for row in rows]

    def revoke_api_key(self, key_id: str) -> ApiKey:
        return _api_key(
            self.conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(revoked_at=func.coalesce(api_keys.c.revoked_at, func.now()))
                .returning(api_keys)
            ).one()
        )

    def touch_api_key(self, key_id: str, min_interval_seconds: int = 60) -> None:
        """Record use, at most once a minute per key, so reads don't become a write per request."""
        self.conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                (api_keys.c.last_used_at.is_(None))
                | (api_keys.c.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, min_interval_seconds)),
            )
            .values(last_used_at=func.now())
        )
