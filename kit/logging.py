"""Structured JSON logs (structlog) with request and trace ids bound per request or event.

``bind_context`` puts ids into contextvars so every log line of that request carries them;
``redact`` keeps secrets out of logs whatever a caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_KEY = re.compile(r"(secret|password|token|api_key|authorization|private)", re.I)
_SECRET_VALUE = re.compile(r"tmb_[a-z0-9]+_[A-Za-z0-9_\-]{8,}|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key) and key not in ("token_type",):
            event_dict[key] = "***"
        elif isinstance(value, str) and _SECRET_VALUE.search(value):
            event_dict[key] = _SECRET_VALUE.sub("***", value)
    return event_dict


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    # Libraries that log through the standard library (uvicorn, alembic, librdkafka via
    # confluent-kafka's `logger` option) come out as the same JSON lines.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def kafka_logger() -> logging.Logger:
    """Pass as confluent-kafka's `logger` so librdkafka's messages become structured logs."""
    return logging.getLogger("kafka")


def get_logger(name: str | None = None):
    return structlog.get_logger(name)


def new_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind_context(**ids: str | None) -> Iterator[None]:
    """Bind ids (request_id, trace_id, tenant_id...) for the duration of one unit of work."""
    clean = {k: v for k, v in ids.items() if v}
    tokens = structlog.contextvars.bind_contextvars(**clean)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def current(name: str) -> str | None:
    return structlog.contextvars.get_contextvars().get(name)
