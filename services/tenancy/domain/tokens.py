"""What an access token says about its holder. The JWT encoding (issuer, audience, claim names) belongs
to the signer adapter; these role names are the ones `kit.grpc.auth` reads back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["tenant", "operator", "service"]
ROLE_TENANT: Role = "tenant"
ROLE_OPERATOR: Role = "operator"
ROLE_SERVICE: Role = "service"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: Role
    issued_at: int  # epoch seconds
    expires_at: int
    tenant_id: str = ""
    key_id: str = ""
    tier: str = ""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float
    tenant_id: str = ""
    key_id: str = ""
    tier: str = ""
