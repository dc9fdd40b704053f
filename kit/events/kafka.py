"""Common confluent-kafka client configuration (logging through structlog)."""

from __future__ import annotations

from kit.logging import kafka_logger


def client_config(bootstrap: str, **overrides) -> dict:
    config = {"bootstrap.servers": bootstrap, "logger": kafka_logger()}
    config.update({key.replace("_", "."): value for key, value in overrides.items()})
    return config
