"""Client channels that forward request/trace ids and attach an access token to every call."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import grpc

from kit.grpc.interceptors import REQUEST_ID_KEY, TRACE_ID_KEY
from kit.logging import current, new_id

TokenProvider = Callable[[], str | None]


class _Call(grpc.ClientCallDetails):
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = details.compression


class _ContextInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: TokenProvider | None, default_timeout: float | None) -> None:
        self._token = token
        self._timeout = default_timeout

    def _details(self, details):
        metadata = list(details.metadata or [])
        keys = {k for k, _ in metadata}
        if REQUEST_ID_KEY not in keys:
            metadata.append((REQUEST_ID_KEY, current("request_id") or new_id()))
        if TRACE_ID_KEY not in keys and current("trace_id"):
            metadata.append((TRACE_ID_KEY, current("trace_id")))
        if "authorization" not in keys and self._token is not None:
            token = self._token()
            if token:
                metadata.append(("authorization", f"Bearer {token}"))
        call = _Call(details, metadata)
        if call.timeout is None:
            call.timeout = self._timeout
        return call

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


# Every call picks the next ready address the target resolves to: replicas behind one target
# ("ipv4:a,b", or "dns:///" + a headless Kubernetes Service) share the load, and a dead one is skipped.
# gRPC's default (pick_first) would pin a client's every call to one replica for the channel's life.
SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def open_channel(
    address: str, token: TokenProvider | None = None, default_timeout: float | None = 30.0
) -> grpc.Channel:
    channel = grpc.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.service_config", SERVICE_CONFIG),
        ],
    )
    return grpc.intercept_channel(channel, _ContextInterceptor(token, default_timeout))


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


class CachedToken:
    """Holds a token from `issue()` (→ (token, expires_at_epoch)) and renews it before it expires."""

    def __init__(self, issue: Callable[[], tuple[str, float]], renew_before: float = 60.0) -> None:
        self._issue = issue
        self._renew_before = renew_before
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - self._renew_before:
                self._token, self._expires = self._issue()
            return self._token
