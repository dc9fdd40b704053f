"""The FastAPI application: middleware (request ids, logs, metrics), error handlers, routes."""

from __future__ import annotations

from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from gateway import openapi, problems
from gateway.auth import CREDENTIAL_HITS
from gateway.body_limit import BodyLimit
from gateway.clients import AsyncReads, Backends, connect
from gateway.config import GatewaySettings
from gateway.console import mount_console
from gateway.credential_cache import CredentialCache
from gateway.job_status_cache import JobStatusCache
from gateway.job_status_fast_path import JobStatusFastPath
from gateway.observe import Observe
from gateway.ratelimit import RateLimiter
from gateway.revocation_listener import RevocationListener
from gateway.routes import (
    api_keys,
    audit,
    billing,
    consent,
    cost,
    health,
    me,
    owner,
    speech,
    speech_live,
    tenants,
    usage,
    voices,
    watermark,
    webhooks,
)

DESCRIPTION = """Timbre's REST API. Authenticate with `Authorization: Bearer <API key>`.
Errors are `application/problem+json` (RFC 9457) with a machine-readable `reason`."""


def create_app(
    settings: GatewaySettings | None = None,
    backends: Backends | None = None,
    credentials: CredentialCache | None = None,
    listener: RevocationListener | None = None,
    job_statuses: JobStatusCache | None = None,
) -> FastAPI:
    """`credentials`: the credential cache (None: every request asks tenancy); `listener` feeds it and
    runs while the app does (gateway/main.py builds both); `job_statuses`: the job-status cache it also
    feeds (None: every GET /v1/jobs/{id} asks synthesis)."""
    settings = settings or GatewaySettings()
    # Given backends (tests' fakes) are used for every call; otherwise the job-status read is async.
    async_reads = backends is None
    backends = backends or connect(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if listener is not None:
            listener.start()
        if async_reads:
            app.state.reads = AsyncReads(settings)  # grpc.aio channels belong to the running loop
        yield
        if listener is not None:
            listener.stop()
        if app.state.reads is not None:
            await app.state.reads.close()
        backends.close()

    app = FastAPI(title="Timbre API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.backends = backends
    app.state.credentials = credentials
    app.state.job_statuses = job_statuses
    app.state.reads = None
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.upstreams = {
        "tenancy": settings.tenancy_addr,
        "billing": settings.billing_addr,
        "embedding": settings.embedding_addr,
        "watermark": settings.watermark_addr,
        "synthesis": settings.synthesis_addr,
    }

    app.add_exception_handler(grpc.RpcError, problems.rpc_error_handler)
    app.add_exception_handler(RequestValidationError, problems.validation_error_handler)
    app.add_exception_handler(HTTPException, problems.http_error_handler)
    app.add_exception_handler(UnicodeEncodeError, problems.unencodable_text_handler)
    app.add_exception_handler(Exception, problems.unhandled_error_handler)
    # Added before Observe, so inside it: a refused body still gets its request id, log line and metrics.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(Observe)  # request ids, log lines, metrics; outermost, so it sees every answer

    for module in (
        billing,
        tenants,
        api_keys,
        me,
        voices,
        consent,
        owner,
        speech,
        speech_live,
        webhooks,
        watermark,
        usage,
        cost,
        health,
    ):
        app.include_router(module.router)
    app.include_router(audit.router)
    mount_console(app, getattr(settings, "console_dir", None))
    openapi.document(app)
    if credentials is not None and job_statuses is not None:
        # Polls answered from the caches before routing; just inside Observe (the first in the list is
        # the outermost), so fast answers get their request id, log line and metrics too.
        route = next(r for r in speech.router.routes if getattr(r, "path", "") == "/v1/jobs/{job_id}")
        observe_at = next(n for n, m in enumerate(app.user_middleware) if m.cls is Observe)
        app.user_middleware.insert(
            observe_at + 1,
            Middleware(
                JobStatusFastPath,
                credentials=credentials,
                jobs=job_statuses,
                limiter=app.state.limiter,
                route=route,
                credential_hits=CREDENTIAL_HITS,
                job_hits=speech.JOB_STATUS_HITS,
            ),
        )

    return app
