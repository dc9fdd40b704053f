"""Who is calling the gateway: `Authorization: Bearer <API key>` (tenants) or the operator secret.

Every request re-validates the API key with tenancy (so a revoked key fails on its very next
request) and receives a short-lived JWT that the gateway forwards to the services.

The rate limit comes first, before tenancy is asked anything: a bad key is throttled like a good one
and costs at most `burst` tenancy calls. Buckets are per presented credential (a hash of it, never
the secret itself) or, without one, per client address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from gateway.ratelimit import RateLimiter
from kit.grpc.client import bearer
from timbre.v1 import tenancy_pb2


@dataclass(frozen=True)
class Caller:
    token: str
    tenant_id: str = ""
    key_id: str = ""
    tier: int = 0
    operator: bool = False

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return bearer(self.token)


def _credential(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        _limit(request, _address_bucket(request), "rate limit exceeded for this client address")
        raise HTTPException(
            401,
            "missing credentials: send Authorization: Bearer <API key>",
            headers={"WWW-Authenticate": 'Bearer realm="timbre"'},
        )
    secret = header[7:].strip()
    _limit(request, _credential_bucket(secret), "rate limit exceeded for this API key")
    return secret


def _credential_bucket(secret: str) -> str:
    # A hash rather than the key's public prefix: wrong secrets under someone's prefix must not drain
    # that key's bucket, and the limiter's memory holds no secrets.
    return "key:" + hashlib.sha256(secret.encode()).hexdigest()[:32]


def _address_bucket(request: Request) -> str:
    return "addr:" + (request.client.host if request.client else "unknown")


def _limit(request: Request, bucket: str, detail: str) -> None:
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.acquire(bucket)
    if wait:
        raise HTTPException(429, detail, headers={"Retry-After": RateLimiter.retry_after(wait)})


def tenant_caller(request: Request) -> Caller:
    secret = _credential(request)
    reply = request.app.state.backends.tenancy.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=secret))
    caller = Caller(token=reply.access_token, tenant_id=reply.tenant_id, key_id=reply.key_id, tier=reply.tier)
    request.state.tenant_id = caller.tenant_id
    return caller


def operator_caller(request: Request) -> Caller:
    secret = _credential(request)
    reply = request.app.state.backends.tenancy.IssueToken(tenancy_pb2.IssueTokenRequest(operator_secret=secret))
    return Caller(token=reply.access_token, operator=True)


TenantCaller = Depends(tenant_caller)
OperatorCaller = Depends(operator_caller)
