"""Tenancy settings (environment prefix TIMBRE_)."""

from kit.config import ServiceSettings


class TenancySettings(ServiceSettings):
    service_name: str = "tenancy"
    tenant_token_ttl_seconds: int = 300
    privileged_token_ttl_seconds: int = 900
    quota_sweep_seconds: float = 30.0
