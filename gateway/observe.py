"""Every REST call's request id, log line and metrics, as plain ASGI middleware.

Not Starlette's BaseHTTPMiddleware (`@app.middleware("http")`): that one relays a streamed body through
a queue and, when the app fails mid-body, still sends the body's closing chunk, so a stream cut by an
upstream failure reached the client as a clean, complete-looking file. Here the failure propagates and
the server aborts the response (tests/faults: an edge killed mid-stream)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.grpc.interceptors import trace_ids
from kit.logging import bind_context, get_logger
from kit.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("gateway")


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id, trace_id = trace_ids(headers)
        started = time.perf_counter()
        status = 500  # unless a response starts: the app raised before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        with bind_context(request_id=request_id, trace_id=trace_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                method = scope["method"]
                elapsed = time.perf_counter() - started
                HTTP_REQUESTS.labels(template, method, str(status)).inc()
                HTTP_LATENCY.labels(template, method).observe(elapsed)
                log.info(
                    "http",
                    method=method,
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    tenant_id=scope.get("state", {}).get("tenant_id"),
                )
