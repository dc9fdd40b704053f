"""JSON shapes of the REST API (pydantic), and their conversion from protos."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kit.grpc.convert import FORMAT_NAMES, TIER_NAMES
from timbre.v1 import tenancy_pb2

Tier = Literal["free", "pro", "enterprise"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def when(stamp) -> datetime | None:
    return stamp.ToDatetime().astimezone() if stamp.seconds or stamp.nanos else None


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    created_at: datetime | None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, key: tenancy_pb2.ApiKey) -> "ApiKeyOut":
        return cls(id=key.key_id, prefix=key.prefix, name=key.name, created_at=when(key.create_time),
                   last_used_at=when(key.last_used_time), revoked_at=when(key.revoke_time))


class NewApiKeyOut(ApiKeyOut):
    api_key: str = Field(description="The secret. Shown once; store it now.")


class TenantOut(BaseModel):
    id: str
    name: str
    tier: Tier
    created_at: datetime | None

    @classmethod
    def of(cls, tenant: tenancy_pb2.Tenant) -> "TenantOut":
        return cls(id=tenant.tenant_id, name=tenant.name, tier=TIER_NAMES[tenant.tier], created_at=when(tenant.create_time))


class LimitsOut(BaseModel):
    characters_per_month: int = Field(description="-1 means unlimited")
    voice_profiles: int
    concurrent_jobs: int
    formats: list[str]

    @classmethod
    def of(cls, limits: tenancy_pb2.TierLimits) -> "LimitsOut":
        return cls(characters_per_month=limits.characters_per_month, voice_profiles=limits.voice_profiles,
                   concurrent_jobs=limits.concurrent_jobs, formats=[FORMAT_NAMES[f] for f in limits.formats])


class UsageOut(BaseModel):
    period: str
    characters_used: int
    characters_reserved: int
    voice_profiles_used: int
    jobs_running: int
    resets_at: datetime | None


class MeOut(BaseModel):
    tenant: TenantOut
    limits: LimitsOut
    usage: UsageOut
    api_key_id: str


class CreateTenantIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = "free"


class CreateTenantOut(BaseModel):
    tenant: TenantOut
    api_key: NewApiKeyOut


class CreateApiKeyIn(Strict):
    name: str = Field(default="", max_length=200)


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_page_token: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime | None
    tenant_id: str
