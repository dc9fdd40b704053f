"""Tenants and their API keys as the service layer hands them around (no storage types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.tenancy.domain.billing import BillingStanding


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: str
    created_at: datetime
    billing: BillingStanding = field(default_factory=BillingStanding)


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    prefix: str
    key_hash: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its secret: the secret is shown this once and never stored."""

    key: ApiKey
    secret: str
