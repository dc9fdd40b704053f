"""Short-lived JWT access tokens (EdDSA) from a grant: API key, operator secret or service secret."""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass

import jwt
from pydantic import SecretStr

from kit.errors import Unauthenticated
from kit.grpc.auth import ALGORITHM, AUDIENCE, ISSUER, ROLE_OPERATOR, ROLE_SERVICE, ROLE_TENANT
from services.tenancy.service_layer.accounts import Accounts
from services.tenancy.storage.signing import SigningKey


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float
    tenant_id: str = ""
    key_id: str = ""
    tier: str = ""


class Tokens:
    def __init__(
        self,
        accounts: Accounts,
        key: SigningKey,
        tier_codes: dict[str, int],
        operator_secret: SecretStr | None,
        service_secret: SecretStr | None,
        tenant_ttl: int = 300,
        privileged_ttl: int = 900,
    ) -> None:
        self.accounts = accounts
        self.key = key
        self._tier_codes = tier_codes
        self._operator = operator_secret
        self._service = service_secret
        self.tenant_ttl = tenant_ttl
        self.privileged_ttl = privileged_ttl

    def _sign(self, claims: dict, ttl: int) -> tuple[str, float]:
        now = int(time.time())
        claims = {**claims, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid})
        return token, float(now + ttl)

    def for_api_key(self, secret: str) -> IssuedToken:
        key, tenant = self.accounts.authenticate(secret)
        token, expires = self._sign(
            {
                "sub": f"tenant:{tenant.id}",
                "role": ROLE_TENANT,
                "tid": tenant.id,
                "kid_api": key.id,
                "tier": self._tier_codes[tenant.tier],
            },
            self.tenant_ttl,
        )
        return IssuedToken(token, expires, tenant.id, key.id, tenant.tier)

    def for_operator(self, secret: str) -> IssuedToken:
        _check_secret(secret, self._operator, "operator")
        token, expires = self._sign({"sub": "operator", "role": ROLE_OPERATOR}, self.privileged_ttl)
        return IssuedToken(token, expires)

    def for_service(self, name: str, secret: str) -> IssuedToken:
        _check_secret(secret, self._service, "service")
        if not name:
            raise Unauthenticated("service_name is required")
        token, expires = self._sign({"sub": f"service:{name}", "role": ROLE_SERVICE}, self.privileged_ttl)
        return IssuedToken(token, expires)


def _check_secret(given: str, expected: SecretStr | None, what: str) -> None:
    if expected is None:
        raise Unauthenticated(f"{what} grants are disabled (TIMBRE_{what.upper()}_SECRET is not set)")
    if not hmac.compare_digest((given or "").encode(), expected.get_secret_value().encode()):
        raise Unauthenticated(f"invalid {what} secret")
