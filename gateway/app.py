"""The FastAPI application: middleware (request ids, logs, metrics), error handlers, routes."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from gateway import problems
from gateway.clients import Backends, connect
from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimiter
from gateway.routes import (
    api_keys,
    billing,
    consent,
    cost,
    health,
    me,
    speech,
    tenants,
    usage,
    voices,
    watermark,
    webhooks,
)
from kit.grpc.interceptors import trace_ids
from kit.logging import bind_context, get_logger
from kit.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("gateway")

DESCRIPTION = """Timbre's REST API. Authenticate with `Authorization: Bearer <API key>`.
Errors are `application/problem+json` (RFC 9457) with a machine-readable `reason`."""


def create_app(settings: GatewaySettings | None = None, backends: Backends | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    backends = backends or connect(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        backends.close()

    app = FastAPI(title="Timbre API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.backends = backends
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
    app.add_exception_handler(Exception, problems.unhandled_error_handler)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        headers = {k.lower(): v for k, v in request.headers.items()}
        request_id, trace_id = trace_ids(headers)
        started = time.perf_counter()
        with bind_context(request_id=request_id, trace_id=trace_id):
            response = await call_next(request)
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(template, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(template, request.method).observe(elapsed)
            log.info(
                "http",
                method=request.method,
                route=template,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 2),
                tenant_id=getattr(request.state, "tenant_id", None),
            )
        response.headers["X-Request-ID"] = request_id
        return response

    for module in (billing, tenants, api_keys, me, voices, consent, speech, webhooks, watermark, usage, cost, health):
        app.include_router(module.router)

    return app
