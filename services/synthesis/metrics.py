"""The seed's synthesis metrics (brief: "Metrics the seed asks for")."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("voice_synthesis_requests_total", "Synthesis requests by outcome", ["tier", "language", "status"])
DURATION = Histogram(
    "voice_synthesis_duration_seconds",
    "Wall time of one generation",
    ["model"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
CHARACTERS = Counter("voice_characters_processed_total", "Characters spoken", ["tier"])
QUEUE_DEPTH = Gauge("voice_queue_depth", "Kafka consumer lag of a synthesis queue", ["queue_name"])
FIRST_CHUNK = Histogram(
    "voice_synthesis_first_chunk_seconds",
    "Time to the first streamed chunk",
    ["model"],
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5),
)
