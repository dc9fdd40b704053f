"""GET /v1/jobs/{id} answered from the caches before FastAPI routes the request, as plain ASGI.

A poll whose credential and job status are both cached needs neither tenancy nor synthesis; what it
still cost was the framework: matching the path against every earlier route and solving the route's
dependencies took most of the gateway's CPU per poll. This answers such a poll with the same bytes and
headers the route would send, after the same checks in the same order (the API key's rate limit, its
cached credential, the job cached for that credential's tenant). Anything else (a miss, a limited key,
no or a malformed credential, another path) goes on to FastAPI untouched, which does what it always did.
"""

from __future__ import annotations

import re

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.credential_cache import CredentialCache, credential_digest
from gateway.job_status_cache import JobStatusCache
from gateway.ratelimit import RateLimiter

JOB_PATH = re.compile(r"/v1/jobs/([^/]+)")


class JobStatusFastPath:
    def __init__(
        self,
        app: ASGIApp,
        credentials: CredentialCache,
        jobs: JobStatusCache,
        limiter: RateLimiter,
        route: object,
        credential_hits: Counter,
        job_hits: Counter,
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.jobs = jobs
        self.limiter = limiter
        self.route = route  # what the request logs and metrics name it by, as if routed
        self.credential_hits = credential_hits
        self.job_hits = job_hits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._cached(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _cached(self, scope: Scope) -> bytes | None:
        match = JOB_PATH.fullmatch(scope["path"])
        if match is None:
            return None
        secret = _bearer(scope)
        if not secret:
            return None
        digest = credential_digest(secret)
        credential = self.credentials.get(digest, count=False)
        if credential is None:
            return None
        body = self.jobs.get(credential.tenant_id, match[1], count=False)
        if body is None:
            return None
        if self.limiter.acquire("key:" + digest[:32]):
            return None  # limited: the route answers 429 (a second acquire while limited takes nothing)
        # Counted only now: a poll handed on to the route is counted there, once.
        self.credentials.stats.hits += 1
        self.jobs.stats.hits += 1
        self.credential_hits.inc()
        self.job_hits.inc()
        scope["route"] = self.route
        scope.setdefault("state", {})["tenant_id"] = credential.tenant_id
        return body


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = value.decode("latin-1")
            return header[7:].strip() if header[:7].lower() == "bearer " else ""
    return ""
