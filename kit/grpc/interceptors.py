"""One server interceptor for the edge concerns every call shares, in a fixed order:
request/trace ids → structured log context → auth → error mapping → metrics and an access log line.

Kept in one place so the order cannot drift between services; each concern is its own small function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import grpc

from kit.errors import TimbreError, Unauthenticated
from kit.grpc.auth import JwksVerifier, reset_principal, set_principal
from kit.grpc.status import GRPC_CODES, internal_status, to_rpc_status
from kit.logging import bind_context, get_logger, new_id
from kit.metrics import GRPC_LATENCY, GRPC_REQUESTS

log = get_logger("grpc")

REQUEST_ID_KEY = "x-request-id"
TRACE_ID_KEY = "x-trace-id"
INFRASTRUCTURE_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def trace_ids(metadata: dict[str, str]) -> tuple[str, str]:
    """Request id from x-request-id; trace id from W3C traceparent, x-trace-id, or new."""
    request_id = metadata.get(REQUEST_ID_KEY) or new_id()
    trace_id = metadata.get(TRACE_ID_KEY)
    traceparent = metadata.get("traceparent", "")
    parts = traceparent.split("-")
    if not trace_id and len(parts) == 4 and len(parts[1]) == 32:
        trace_id = parts[1]
    return request_id, trace_id or new_id()


def bearer_token(metadata: dict[str, str]) -> str | None:
    value = metadata.get("authorization", "")
    if value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


class EdgeInterceptor(grpc.ServerInterceptor):
    def __init__(
        self,
        service: str,
        verifier: JwksVerifier | None,
        public_methods: Iterable[str] = (),
    ) -> None:
        self._service = service
        self._verifier = verifier
        # Public methods still get a principal when a valid token is sent.
        self._public = {m.rsplit("/", 1)[-1] for m in public_methods}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(INFRASTRUCTURE_SERVICES):
            return handler  # health and reflection: open, unlogged
        method = handler_call_details.method.rsplit("/", 1)[-1]
        wrap = self._wrap_stream if handler.response_streaming else self._wrap_unary
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap(handler.unary_unary, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap(handler.unary_stream, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap(handler.stream_unary, method), handler.request_deserializer, handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            wrap(handler.stream_stream, method), handler.request_deserializer, handler.response_serializer
        )

    # --- the concerns --------------------------------------------------------------------------

    def _authenticate(self, metadata: dict[str, str], method: str):
        token = bearer_token(metadata)
        if token is None:
            if method in self._public:
                return None
            raise Unauthenticated("missing access token (authorization: Bearer <jwt>)")
        if self._verifier is None:
            raise Unauthenticated("this service cannot verify tokens")
        try:
            return self._verifier.verify(token)
        except Unauthenticated:
            if method in self._public:
                return None
            raise

    def _finish(self, method: str, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.perf_counter() - started
        GRPC_REQUESTS.labels(self._service, method, code.name).inc()
        GRPC_LATENCY.labels(self._service, method).observe(elapsed)
        log.info("rpc", method=method, code=code.name, duration_ms=round(elapsed * 1000, 2))

    def _fail(self, context: grpc.ServicerContext, exc: BaseException) -> grpc.StatusCode:
        """Translate an exception into the call's status; returns the code for metrics."""
        if isinstance(exc, TimbreError):
            status = to_rpc_status(exc)
            log.info("rpc_error", reason=exc.reason, error=exc.message)
        elif isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
            # A downstream call failed: pass its status through unchanged.
            status = _PassThrough(exc)
        else:
            log.exception("rpc_unhandled_error")
            status = internal_status()
        context.abort_with_status(status)  # raises; never returns
        raise AssertionError("unreachable")

    @contextmanager
    def _call(self, context: grpc.ServicerContext, method: str) -> Iterator[None]:
        """Everything around one call: ids and log context, auth, status mapping, metrics."""
        metadata = _metadata(context)
        request_id, trace_id = trace_ids(metadata)
        started = time.perf_counter()
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        with bind_context(request_id=request_id, trace_id=trace_id):
            code = grpc.StatusCode.OK
            token = None
            try:
                token = set_principal(self._authenticate(metadata, method))
                yield
            except Exception as exc:  # noqa: BLE001 - mapped to a status below
                code = _code_of(exc)
                self._fail(context, exc)
            finally:
                if token is not None:
                    reset_principal(token)
                self._finish(method, code, started)

    def _wrap_unary(self, behavior: Callable, method: str) -> Callable:
        def handle(request, context):
            with self._call(context, method):
                return behavior(request, context)

        return handle

    def _wrap_stream(self, behavior: Callable, method: str) -> Callable:
        def handle(request, context):
            with self._call(context, method):
                yield from behavior(request, context)

        return handle


class _PassThrough(grpc.Status):
    def __init__(self, error: grpc.RpcError) -> None:
        call: grpc.Call = error  # type: ignore[assignment]  # a raised call error is also its Call
        self.code = call.code()
        self.details = call.details() or ""
        self.trailing_metadata = tuple(
            (k, v) for k, v in (call.trailing_metadata() or ()) if k == "grpc-status-details-bin"
        )


def _code_of(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, TimbreError):
        return GRPC_CODES[exc.kind]
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return exc.code()
    return grpc.StatusCode.INTERNAL
