"""Who is calling: JWT access tokens issued by the tenancy service, verified against its JWKS.

A principal is a tenant (acting through an API key), the operator, or an internal service.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from kit.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated

ISSUER = "timbre-tenancy"
AUDIENCE = "timbre"
ALGORITHM = "EdDSA"

ROLE_TENANT = "tenant"
ROLE_OPERATOR = "operator"
ROLE_SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    tenant_id: str | None = None
    key_id: str | None = None
    tier: int = 0

    @property
    def is_privileged(self) -> bool:
        return self.role in (ROLE_OPERATOR, ROLE_SERVICE)

    def tenant_scope(self, requested_tenant_id: str | None = None) -> str:
        """The tenant this call acts on. A tenant asking for another tenant gets NOT_FOUND."""
        if self.is_privileged:
            if not requested_tenant_id:
                raise InvalidArgument("tenant_id is required for operator and service calls")
            return requested_tenant_id
        if requested_tenant_id and requested_tenant_id != self.tenant_id:
            raise NotFound("tenant not found")
        assert self.tenant_id
        return self.tenant_id

    def require_operator(self) -> None:
        if self.role != ROLE_OPERATOR:
            raise PermissionDenied("operator role required")

    def require_privileged(self) -> None:
        if not self.is_privileged:
            raise PermissionDenied("operator or service role required")


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("missing access token")
    return principal


def set_principal(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _current.reset(token)


def principal_from_claims(claims: dict) -> Principal:
    return Principal(
        subject=claims["sub"],
        role=claims.get("role", ROLE_TENANT),
        tenant_id=claims.get("tid"),
        key_id=claims.get("kid_api"),
        tier=int(claims.get("tier", 0)),
    )


class JwksVerifier:
    """Verifies tokens with keys from a JWKS source; refetches (rate-limited) on an unknown key id."""

    def __init__(self, fetch_jwks: Callable[[], str], min_refresh_seconds: float = 5.0) -> None:
        self._fetch = fetch_jwks
        self._keys: dict[str, Any] = {}  # kid → the public key PyJWK parsed
        self._lock = threading.Lock()
        self._last_fetch = 0.0
        self._min_refresh = min_refresh_seconds

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._last_fetch < self._min_refresh and self._keys:
                return
            document = json.loads(self._fetch())
            self._keys = {k["kid"]: jwt.PyJWK.from_dict(k).key for k in document.get("keys", [])}
            self._last_fetch = time.monotonic()

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed access token") from exc
        kid = str(header.get("kid") or "")
        if kid not in self._keys:
            self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token signed by an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token") from exc
        return principal_from_claims(claims)
