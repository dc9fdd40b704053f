"""Prometheus metrics shared by every process, and the /metrics HTTP endpoint."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

GRPC_REQUESTS = Counter("timbre_grpc_requests_total", "gRPC calls handled", ["service", "method", "code"])
GRPC_LATENCY = Histogram(
    "timbre_grpc_request_duration_seconds",
    "gRPC call latency",
    ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter("timbre_http_requests_total", "REST calls handled", ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "timbre_http_request_duration_seconds",
    "REST call latency",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter("timbre_events_published_total", "Outbox events delivered to Kafka", ["service", "topic"])
EVENTS_CONSUMED = Counter(
    "timbre_events_consumed_total", "Events handled by consumers", ["consumer", "type", "outcome"]
)
OUTBOX_BACKLOG = Histogram(
    "timbre_outbox_batch_size",
    "Rows relayed per outbox batch",
    ["service"],
    buckets=(1, 5, 10, 50, 100, 200, 500),
)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on host:port (0 disables it)."""
    if port:
        start_http_server(port, addr=host)
