"""Bootstrap of a gRPC service process: interceptors, health, reflection, metrics, background
workers (outbox relay, consumers) and graceful shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kit.config import ServiceSettings
from kit.grpc.auth import JwksVerifier
from kit.grpc.interceptors import EdgeInterceptor
from kit.logging import get_logger
from kit.metrics import serve_metrics

log = get_logger("server")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class BackgroundWorker(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


@dataclass
class ServiceDefinition:
    """What a service hands to the bootstrap."""

    name: str
    # (add_XServicer_to_server, servicer, full service name) triples.
    servicers: list[tuple[Callable, object, str]]
    verifier: JwksVerifier | None
    public_methods: Iterable[str] = ()
    workers: list[BackgroundWorker] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    # Health stays NOT_SERVING until this returns True (e.g. an index still loading).
    ready: Callable[[], bool] | None = None


def _connection_age(seconds: float) -> list[tuple[str, int]]:
    """Connections end after `seconds` (calls in flight get as long again to finish), so round-robin
    clients reconnect through name resolution and spread over replicas started since."""
    if seconds <= 0:
        return []
    millis = int(seconds * 1000)
    return [("grpc.max_connection_age_ms", millis), ("grpc.max_connection_age_grace_ms", millis)]


class ServiceProcess:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self.health = health.HealthServicer()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.grpc_workers),
            interceptors=[EdgeInterceptor(definition.name, definition.verifier, definition.public_methods)],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                *_connection_age(settings.grpc_max_connection_age_seconds),
            ],
        )
        names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        for add, servicer, full_name in definition.servicers:
            add(servicer, self.server)
            names.append(full_name)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(names, self.server)
        self.port = self.server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        self._service_names = [full for _, _, full in definition.servicers]

    def start(self) -> ServiceProcess:
        self.server.start()
        for worker in self.definition.workers:
            thread = threading.Thread(target=self._run_worker, args=(worker,), name=worker.name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.definition.ready is None:
            self._set_serving()
        else:
            for name in ["", *self._service_names]:
                self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
            threading.Thread(target=self._serve_when_ready, name="readiness", daemon=True).start()
        log.info("service_started", port=self.port, workers=[w.name for w in self.definition.workers])
        return self

    def _set_serving(self) -> None:
        for name in ["", *self._service_names]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def _serve_when_ready(self) -> None:
        ready = self.definition.ready
        assert ready is not None  # only started when the definition has a readiness check
        while not self.stop_event.is_set():
            if ready():
                self._set_serving()
                log.info("service_ready")
                return
            self.stop_event.wait(0.2)

    def _run_worker(self, worker: BackgroundWorker) -> None:
        while not self.stop_event.is_set():
            try:
                worker.run(self.stop_event)
                return
            except Exception:  # noqa: BLE001 - a crashed loop restarts after a pause
                log.exception("worker_crashed", worker=worker.name)
                self.stop_event.wait(2.0)

    def stop(self) -> None:
        if self.stop_event.is_set():
            return
        log.info("service_stopping", grace_seconds=self.settings.shutdown_grace_seconds)
        self.health.enter_graceful_shutdown()
        self.stop_event.set()
        done = self.server.stop(self.settings.shutdown_grace_seconds)
        done.wait(self.settings.shutdown_grace_seconds + 1)
        for thread in self._threads:
            thread.join(timeout=self.settings.shutdown_grace_seconds)
        for callback in self.definition.on_stop:
            callback()
        log.info("service_stopped")

    def serve_forever(self) -> None:
        """Start, expose metrics, and block until SIGTERM/SIGINT; then shut down gracefully."""
        serve_metrics(self.settings.metrics_port or 0, self.settings.metrics_host)
        self.start()
        stopping = threading.Event()

        def on_signal(signum, _frame):
            log.info("signal", signum=signum)
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stopping.wait()
        self.stop()
