"""Tenants and API keys in PostgreSQL (SQLAlchemy Core over the caller's connection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, func, insert, select, update

from services.tenancy.storage.tables import api_keys, tenants


def add_tenant(conn: Connection, tenant_id: str, name: str, tier: str) -> Row:
    return conn.execute(insert(tenants).values(id=tenant_id, name=name, tier=tier).returning(tenants)).one()


def get_tenant(conn: Connection, tenant_id: str, for_update: bool = False) -> Row | None:
    query = select(tenants).where(tenants.c.id == tenant_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).first()


def add_api_key(conn: Connection, key_id: str, tenant_id: str, prefix: str, key_hash: str, name: str) -> Row:
    return conn.execute(
        insert(api_keys)
        .values(id=key_id, tenant_id=tenant_id, prefix=prefix, key_hash=key_hash, name=name)
        .returning(api_keys)
    ).one()


def find_api_key(conn: Connection, prefix: str) -> Row | None:
    return conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()


def tenant_api_key(conn: Connection, tenant_id: str, key_id: str) -> Row | None:
    return conn.execute(select(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id)).first()


def list_api_keys(
    conn: Connection, tenant_id: str, after_created: datetime | None, after_id: str, limit: int
) -> list[Row]:
    query = select(api_keys).where(api_keys.c.tenant_id == tenant_id)
    if after_created is not None:
        query = query.where((api_keys.c.created_at, api_keys.c.id) > (after_created, after_id))
    return list(conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id).limit(limit)))


def revoke_api_key(conn: Connection, key_id: str) -> Row:
    return conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(revoked_at=func.coalesce(api_keys.c.revoked_at, func.now()))
        .returning(api_keys)
    ).one()


def touch_api_key(conn: Connection, key_id: str, min_interval_seconds: int = 60) -> None:
    """Record use, at most once a minute per key, so reads don't become a write per request."""
    conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            (api_keys.c.last_used_at.is_(None))
            | (api_keys.c.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, min_interval_seconds)),
        )
        .values(last_used_at=func.now())
    )
