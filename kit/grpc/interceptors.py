"""One server interceptor for the edge concerns every call shares, in a fixed order:
request/trace ids → structured log context → auth → error mapping → metrics and an access log line.

Kept in one place so the order cannot drift between services; each concern is its own small function.

Requests are decoded here too, after auth, rather than by grpc: grpc answers a payload it cannot
deserialize with INTERNAL ("Exception deserializing request!"), which blames the server for the
client's bytes. Decoded here, a malformed payload is INVALID_ARGUMENT with an ErrorInfo like any other
bad input. (Oversized messages never reach a handler: grpc answers RESOURCE_EXHAUSTED itself.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import sqlalchemy.exc
from google.protobuf.message import DecodeError, Message

from kit.errors import InvalidArgument, TimbreError, Unauthenticated, Unavailable
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
        if handler is None:
            return None
        behavior = _decoding(handler)
        if handler_call_details.method.startswith(INFRASTRUCTURE_SERVICES):
            # Health and reflection: open and unlogged; only a malformed request is answered here.
            wrap = _malformed_stream if handler.response_streaming else _malformed_unary
            return _handler_like(handler, wrap(behavior))
        method = handler_call_details.method.rsplit("/", 1)[-1]
        wrap_edge = self._wrap_stream if handler.response_streaming else self._wrap_unary
        return _handler_like(handler, wrap_edge(behavior, method))

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
        elif _database_unreachable(exc):
            log.warning("rpc_database_unavailable", error=type(exc).__name__)
            status = to_rpc_status(Unavailable("the database is unavailable; retry shortly", retry_after_seconds=2))
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


class MalformedRequest(InvalidArgument):
    """The request's bytes are not a message of the method's request type, or carry text no field
    may hold."""


def _decoder(deserializer: Callable[[bytes], object] | None) -> Callable[[bytes], object]:
    if deserializer is None:
        return lambda data: data

    def decode(data: bytes) -> object:
        try:
            message = deserializer(data)
        except DecodeError as exc:
            raise MalformedRequest(f"the request is not a valid protobuf message: {exc}") from None
        if isinstance(message, Message):
            field = _field_with_nul(message)
            if field:
                raise MalformedRequest(f"{field} contains a NUL character", field=field)
        return message

    return decode


def _field_with_nul(message: Message, prefix: str = "") -> str | None:
    """The first string field (path) of `message` that holds a NUL character. No name, id or text of this
    API means anything with one, and PostgreSQL cannot store it: refused here, before it turns into an
    INTERNAL error deep in a repository."""
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entries = list(value.items())
            strings = [item for entry in entries for item in entry if isinstance(item, str)]
            nested = [v for _, v in entries if isinstance(v, Message)]
        else:
            items = list(value) if field.is_repeated else [value]
            strings = [item for item in items if isinstance(item, str)]
            nested = [item for item in items if isinstance(item, Message)]
        if any("\x00" in text for text in strings):
            return path
        for child in nested:
            found = _field_with_nul(child, path + ".")
            if found:
                return found
    return None


def _decoding(handler: grpc.RpcMethodHandler) -> Callable:
    """The handler's behavior taking raw request bytes: each request is decoded when the behavior reads
    it (inside the edge's error mapping), a stream's messages one by one as it iterates them."""
    decode = _decoder(handler.request_deserializer)
    behavior: Callable[..., Any] | None = (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )
    assert behavior is not None  # a handler has exactly one of the four
    if handler.request_streaming:
        return lambda requests, context: behavior((decode(r) for r in requests), context)
    return lambda request, context: behavior(decode(request), context)


def _handler_like(handler: grpc.RpcMethodHandler, behavior: Callable) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` running `behavior`, with no request deserializer (the
    behavior decodes) and the same response serializer."""
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(behavior, None, handler.response_serializer)


def _malformed_unary(behavior: Callable) -> Callable:
    def handle(request, context):
        try:
            return behavior(request, context)
        except MalformedRequest as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)

    return handle


def _malformed_stream(behavior: Callable) -> Callable:
    def handle(request, context):
        try:
            yield from behavior(request, context)
        except MalformedRequest as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)

    return handle


def _code_of(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, TimbreError):
        return GRPC_CODES[exc.kind]
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return exc.code()
    if _database_unreachable(exc):
        return grpc.StatusCode.UNAVAILABLE
    return grpc.StatusCode.INTERNAL


def _database_unreachable(exc: BaseException) -> bool:
    """A lost or refused database connection (PostgreSQL restarting, failing over): the call may
    succeed when retried, so it is UNAVAILABLE, not INTERNAL (found by the fault suite)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sqlalchemy.exc.OperationalError)
