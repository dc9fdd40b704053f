"""Short-lived access tokens from a grant: API key, operator secret or service secret."""

from __future__ import annotations

import hmac

from kit.clock import Clock
from kit.errors import Unauthenticated
from services.tenancy.domain.billing import check_access
from services.tenancy.domain.tokens import (
    ROLE_OPERATOR,
    ROLE_SERVICE,
    ROLE_TENANT,
    IssuedToken,
    Role,
    TokenClaims,
)
from services.tenancy.service_layer.accounts import Accounts
from services.tenancy.service_layer.ports import TokenSigner


class Tokens:
    def __init__(
        self,
        accounts: Accounts,
        signer: TokenSigner,
        clock: Clock,
        operator_secret: str | None,
        service_secret: str | None,
        tenant_ttl: int = 300,
        privileged_ttl: int = 900,
    ) -> None:
        self.accounts = accounts
        self.signer = signer
        self.clock = clock
        self._operator = operator_secret  # None: that grant is disabled
        self._service = service_secret
        self.tenant_ttl = tenant_ttl
        self.privileged_ttl = privileged_ttl

    def _issue(
        self, subject: str, role: Role, ttl: int, tenant_id: str = "", key_id: str = "", tier: str = ""
    ) -> IssuedToken:
        now = int(self.clock.now().timestamp())
        claims = TokenClaims(subject, role, now, now + ttl, tenant_id, key_id, tier)
        return IssuedToken(self.signer.sign(claims), float(now + ttl), tenant_id, key_id, tier)

    def for_api_key(self, secret: str) -> IssuedToken:
        key, tenant = self.accounts.authenticate(secret)
        # Asked on every gateway request, so a suspension bites, and a restore frees, on the next one.
        check_access(tenant.billing)
        return self._issue(f"tenant:{tenant.id}", ROLE_TENANT, self.tenant_ttl, tenant.id, key.id, tenant.tier)

    def for_operator(self, secret: str) -> IssuedToken:
        _check_secret(secret, self._operator, "operator")
        return self._issue("operator", ROLE_OPERATOR, self.privileged_ttl)

    def for_service(self, name: str, secret: str) -> IssuedToken:
        _check_secret(secret, self._service, "service")
        if not name:
            raise Unauthenticated("service_name is required")
        return self._issue(f"service:{name}", ROLE_SERVICE, self.privileged_ttl)

    def jwks(self) -> dict:
        """The published keys that verify these tokens."""
        return self.signer.jwks()


def _check_secret(given: str, expected: str | None, what: str) -> None:
    if expected is None:
        raise Unauthenticated(f"{what} grants are disabled (TIMBRE_{what.upper()}_SECRET is not set)")
    if not hmac.compare_digest((given or "").encode(), expected.encode()):
        raise Unauthenticated(f"invalid {what} secret")
