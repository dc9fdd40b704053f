"""Structured JSON logs (structlog) with request and trace ids bound per request or event.

``bind_context`` puts ids into contextvars so every log line of that request carries them;
``redact`` keeps secrets out of logs whatever a caller passes.

With ``TIMBRE_LOG_DIR`` set, every line at INFO and above is also appended to
``<dir>/<service>-<pid>.jsonl``, whatever the console's level: the test suite sets it so that a check
run after it can read every service's logs for leaked secrets (tests/security/test_log_secrets.py).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_KEY = re.compile(r"(secret|password|token|api_key|authorization|private)", re.I)
# API keys, voice owners' link tokens, JWTs, webhook signing secrets, Stripe secret/restricted keys and
# Stripe webhook secrets.
_SECRET_VALUE = re.compile(
    r"tmb_[a-z0-9]+_[A-Za-z0-9_\-]{8,}"
    r"|tvo_[A-Za-z0-9_\-]{16,}"
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"
    r"|whsec_[A-Za-z0-9_\-]{8,}"
    r"|\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}"
)
FILE_LEVEL = logging.INFO


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key) and key not in ("token_type",):
            event_dict[key] = "***"
        elif isinstance(value, str) and _SECRET_VALUE.search(value):
            event_dict[key] = _SECRET_VALUE.sub("***", value)
    return event_dict


class _TeeLogger:
    """structlog's output: each rendered line to stdout at the console's level, and to the run's log
    file (if any) at FILE_LEVEL. structlog calls the method named after the line's level."""

    def __init__(self, console_level: int, file: IO[str] | None) -> None:
        self.console_level = console_level
        self.file = file
        self.lock = threading.Lock()

    def _write(self, level: int, line: str) -> None:
        with self.lock:
            if level >= self.console_level:
                print(line, file=sys.stdout, flush=True)
            if self.file is not None and level >= FILE_LEVEL:
                self.file.write(line + "\n")

    def __getattr__(self, name: str) -> Any:
        level = logging.getLevelName(name.upper()) if name != "msg" else logging.INFO
        level = level if isinstance(level, int) else logging.INFO
        return lambda line: self._write(level, line)


_log_files: dict[Path, IO[str]] = {}


def _log_file(service: str) -> IO[str] | None:
    """This process's file under TIMBRE_LOG_DIR (opened once, line-buffered), or None."""
    folder = os.environ.get("TIMBRE_LOG_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{service}-{os.getpid()}.jsonl"
    if path not in _log_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        _log_files[path] = path.open("a", encoding="utf-8", buffering=1)
    return _log_files[path]


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
    console_level = logging.getLevelName(level.upper())
    handler.setLevel(console_level)
    log_file = _log_file(service)
    lowest = min(console_level, FILE_LEVEL) if log_file else console_level
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if log_file is not None:
        file_handler = logging.StreamHandler(log_file)
        file_handler.setFormatter(handler.formatter)
        file_handler.setLevel(FILE_LEVEL)
        root.handlers.append(file_handler)
    root.setLevel(lowest)
    tee = _TeeLogger(console_level, log_file)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lowest),
        logger_factory=lambda *args: tee,
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
