"""Who asks: what the watermark rules need to know about a caller, whatever the transport."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    tenant_id: str | None  # None for the operator and internal services
    user_id: str  # the API key that acted, else the token's subject
    privileged: bool = False
