"""The voice owner's routes: the person whose voice was cloned reads their consent, sees how often the
voice spoke, and revokes it, with the private link the tenant passed them (docs/owner-portal.md).

The credential is the owner link's token, `Authorization: Bearer tvo_…`, not an API key: it opens its one
consent and nothing else. The embedding service checks it (a public RPC: the token travels in the
request message, never in metadata or a log line); unknown, malformed and replaced tokens all answer
404 OWNER_LINK_NOT_FOUND. Limits come first, before any service is asked: per client address and per
token (a hash of it), each a bucket of the owner limiter (TIMBRE_OWNER_RATE_LIMIT_*), apart from the API
keys' limiter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, HTTPException, Request

from gateway.credential_cache import credential_digest
from gateway.ratelimit import RateLimiter
from gateway.routes.schemas import OwnerViewOut
from kit.grpc.client_address import forward
from timbre.v1 import embedding_pb2

router = APIRouter(tags=["owner"])


@dataclass(frozen=True)
class OwnerCaller:
    token: str = field(default="", repr=False)  # a credential: never in a repr (tracebacks, debug logs)
    address: str | None = None

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """The client's address for the audit log; no authorization: the token goes in the request."""
        return forward(self.address)


def owner_limiter(request: Request) -> RateLimiter:
    """The app's owner limiter, made on first use (the dependency runs on the event loop: no race)."""
    limiter = getattr(request.app.state, "owner_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = RateLimiter(settings.owner_rate_limit_per_second, settings.owner_rate_limit_burst)
        request.app.state.owner_limiter = limiter
    return limiter


def _limit(limiter: RateLimiter, bucket: str, detail: str) -> None:
    wait = limiter.acquire(bucket)
    if wait:
        raise HTTPException(429, detail, headers={"Retry-After": RateLimiter.retry_after(wait)})


async def owner_caller(request: Request) -> OwnerCaller:
    limiter = owner_limiter(request)
    address = request.client.host if request.client else None
    _limit(limiter, f"addr:{address or 'unknown'}", "rate limit exceeded for this client address")
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        raise HTTPException(
            401,
            "missing owner link token: send Authorization: Bearer <owner token>",
            headers={"WWW-Authenticate": 'Bearer realm="timbre-owner"'},
        )
    _limit(limiter, "owner:" + credential_digest(token)[:32], "rate limit exceeded for this owner link")
    return OwnerCaller(token=token, address=address)


Owner = Depends(owner_caller)


@router.get(
    "/v1/owner/consent",
    response_model=OwnerViewOut,
    summary="The voice owner's view: the consent, who uses the voice, and its generations per month",
    description="Authenticate with the owner link's token (`Authorization: Bearer tvo_…`), not an API key. "
    "`generations` holds the last 12 calendar months (UTC), oldest first. 503 when the usage history "
    "cannot be read (never zeros in its place).",
)
def owner_consent(request: Request, owner: OwnerCaller = Owner) -> OwnerViewOut:
    reply = request.app.state.backends.embedding.GetOwnerConsent(
        embedding_pb2.GetOwnerConsentRequest(owner_token=owner.token), metadata=owner.metadata
    )
    return OwnerViewOut.of(reply.view)


@router.post(
    "/v1/owner/consent/revoke",
    response_model=OwnerViewOut,
    summary="The voice owner revokes the consent: the voice is disabled at once, its samples and artifacts deleted",
    description="What the tenant's DELETE /v1/voices/{voice_id}/consent does, asked by the owner (the audit "
    "log names the owner as the actor). Revoking an already revoked consent answers 200 again.",
)
def revoke_owner_consent(request: Request, owner: OwnerCaller = Owner) -> OwnerViewOut:
    reply = request.app.state.backends.embedding.RevokeOwnerConsent(
        embedding_pb2.RevokeOwnerConsentRequest(owner_token=owner.token), metadata=owner.metadata
    )
    return OwnerViewOut.of(reply.view)
