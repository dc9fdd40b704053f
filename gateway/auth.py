"""Who is calling the gateway: `Authorization: Bearer <API key>` (tenants) or the operator secret.

An API key is exchanged at tenancy for a short-lived JWT that the gateway forwards to the services.
With the credential cache on (`TIMBRE_CREDENTIAL_CACHE_SECONDS`, gateway/credential_cache.py) an
exchange is reused for a few seconds, and revocations evict it through Kafka; with it off, or while
its event listener cannot vouch for it, every request asks tenancy (a revoked key fails at once).

The rate limit comes first, before tenancy is asked anything: a bad key is throttled like a good one
and costs at most `burst` tenancy calls. Buckets are per presented credential (a hash of it, never
the secret itself) or, without one, per client address.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from gateway.credential_cache import Credential, CredentialCache, credential_digest
from gateway.ratelimit import RateLimiter
from kit.grpc.client import bearer
from timbre.v1 import tenancy_pb2

# hit: served from the cache; exchanged: asked tenancy (a miss, the cache off or bypassed, or a bad key).
CREDENTIALS = Counter("timbre_gateway_credentials_total", "API keys presented, by how they were checked", ["outcome"])
CREDENTIAL_HITS = CREDENTIALS.labels("hit")
CREDENTIAL_EXCHANGES = CREDENTIALS.labels("exchanged")


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


def _credential(request: HTTPConnection) -> tuple[str, str]:
    """The presented secret and its digest (the only name the gateway's memory keeps it under)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        _limit(request, _address_bucket(request), "rate limit exceeded for this client address")
        raise HTTPException(
            401,
            "missing credentials: send Authorization: Bearer <API key>",
            headers={"WWW-Authenticate": 'Bearer realm="timbre"'},
        )
    secret = header[7:].strip()
    digest = credential_digest(secret)
    # A hash rather than the key's public prefix: wrong secrets under someone's prefix must not drain
    # that key's bucket, and the limiter's memory holds no secrets.
    _limit(request, "key:" + digest[:32], "rate limit exceeded for this API key")
    return secret, digest


def _address_bucket(request: HTTPConnection) -> str:
    return "addr:" + (request.client.host if request.client else "unknown")


def _limit(request: HTTPConnection, bucket: str, detail: str) -> None:
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.acquire(bucket)
    if wait:
        raise HTTPException(429, detail, headers={"Retry-After": RateLimiter.retry_after(wait)})


async def tenant_caller(request: HTTPConnection) -> Caller:
    # HTTPConnection: the same check for a WebSocket's opening handshake as for a request.
    # A coroutine so that a cache hit costs no trip through the threadpool; the exchange itself (a
    # blocking gRPC call) still runs there.
    secret, digest = _credential(request)
    cache: CredentialCache | None = request.app.state.credentials
    credential = cache.get(digest) if cache is not None else None
    if credential is not None:
        CREDENTIAL_HITS.inc()
    else:
        CREDENTIAL_EXCHANGES.inc()
        asked_at = cache.now() if cache is not None else 0.0
        reply = await run_in_threadpool(
            request.app.state.backends.tenancy.IssueToken, tenancy_pb2.IssueTokenRequest(api_key=secret)
        )
        credential = Credential(
            token=reply.access_token,
            tenant_id=reply.tenant_id,
            key_id=reply.key_id,
            tier=reply.tier,
            expires_at=reply.expire_time.seconds if reply.HasField("expire_time") else 0.0,
        )
        if cache is not None:
            cache.put(digest, credential, asked_at)
    request.state.tenant_id = credential.tenant_id
    return Caller(
        token=credential.token, tenant_id=credential.tenant_id, key_id=credential.key_id, tier=credential.tier
    )


def operator_caller(request: Request) -> Caller:
    secret, _ = _credential(request)
    reply = request.app.state.backends.tenancy.IssueToken(tenancy_pb2.IssueTokenRequest(operator_secret=secret))
    return Caller(token=reply.access_token, operator=True)


TenantCaller = Depends(tenant_caller)
OperatorCaller = Depends(operator_caller)
