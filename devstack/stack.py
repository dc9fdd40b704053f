"""`timbre stack up|down|status`: the whole local stack on 127.0.0.1, idempotent and quick when warm."""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from devstack import infra
from devstack.processes import Paths, port_open, read_pid, spawn, terminate, wait_for
from kit.config import METRICS_PORTS, SERVICE_PORTS, KitSettings

REPO = infra.REPO
PG_PORT = 55432
KAFKA_PORT = 59092
KAFKA_CONTROLLER_PORT = 59093
S3_PORT = 59000
# stripe-mock's own default ports, below Linux's ephemeral range (32768-60999).
STRIPE_MOCK_PORT = 12111
STRIPE_MOCK_HTTPS_PORT = 12112
GATEWAY_PORT = 8080


@dataclass(frozen=True)
class ServiceProc:
    name: str
    module: str
    port: int
    kind: str  # "grpc" or "http"


# Every service, in start order.
SERVICES = [
    ServiceProc("tenancy", "services.tenancy.main", SERVICE_PORTS["tenancy"], "grpc"),
    ServiceProc("billing", "services.billing.main", SERVICE_PORTS["billing"], "grpc"),
    ServiceProc("embedding", "services.embedding.main", SERVICE_PORTS["embedding"], "grpc"),
    ServiceProc("watermark", "services.watermark.main", SERVICE_PORTS["watermark"], "grpc"),
    ServiceProc("synthesis", "services.synthesis.main", SERVICE_PORTS["synthesis"], "grpc"),
    ServiceProc("gateway", "gateway.main", GATEWAY_PORT, "http"),
]
SCHEMAS = {
    "tenancy": "services/tenancy/migrations",
    "billing": "services/billing/migrations",
    "embedding": "services/embedding/migrations",
    "watermark": "services/watermark/migrations",
    "synthesis": "services/synthesis/migrations",
}


def state_paths() -> Paths:
    return Paths((REPO / ".run").resolve())


def ensure_secrets(paths: Paths) -> Path:
    """Random deployment secrets for the local stack, written once (mode 600); a secret added since an
    existing file was written is appended to it."""
    path = paths.root / "secrets.env"
    if not path.exists():
        paths.ensure()
        path.write_text(
            f"TIMBRE_OPERATOR_SECRET={secrets.token_urlsafe(32)}\n"
            f"TIMBRE_SERVICE_SECRET={secrets.token_urlsafe(32)}\n"
            f"TIMBRE_WATERMARK_KEY={secrets.token_hex(32)}\n"
        )
        path.chmod(0o600)
    present = {line.split("=", 1)[0] for line in path.read_text().splitlines() if "=" in line}
    if "TIMBRE_DATA_KEK" not in present:
        # Wraps every voice's data key (encryption at rest, kit/crypto); rotate with `timbre keys rotate`.
        separator = "" if path.read_text().endswith("\n") or not path.read_text() else "\n"
        with path.open("a") as handle:
            handle.write(f"{separator}TIMBRE_DATA_KEK={secrets.token_hex(32)}\nTIMBRE_DATA_KEK_ID=kek-1\n")
    if "TIMBRE_STRIPE_WEBHOOK_SECRET" not in present:
        # Signs the Stripe webhooks the gateway verifies (stripe-mock sends none; tests and the demo do).
        separator = "" if path.read_text().endswith("\n") or not path.read_text() else "\n"
        with path.open("a") as handle:
            handle.write(f"{separator}TIMBRE_STRIPE_WEBHOOK_SECRET=whsec_{secrets.token_hex(24)}\n")
    return path


def stripe_env(settings: KitSettings) -> dict[str, str]:
    """What the services need to reach the local stripe-mock; nothing when Stripe is not local."""
    if not settings.stripe_local:
        return {}
    return {
        "TIMBRE_STRIPE_API_BASE": f"http://127.0.0.1:{STRIPE_MOCK_PORT}",
        "TIMBRE_STRIPE_API_KEY": infra.STRIPE_MOCK_API_KEY,
    }


def migrate_all(database_url: str) -> None:
    from kit.db.migrations import upgrade

    for schema, folder in SCHEMAS.items():
        upgrade(REPO / folder, schema, database_url)


def ensure_all_topics(bootstrap: str, prefix: str = "", replication_factor: int = 1) -> list[str]:
    from kit.events.topics import ensure_topics, specs_for

    return ensure_topics(bootstrap, specs_for(list(SCHEMAS)), prefix, replication_factor=replication_factor)


def infra_up(with_s3: bool = False, quiet: bool = False) -> dict[str, str]:
    """PostgreSQL + Kafka (+ S3, + stripe-mock), migrations and topics. Used by `stack up` and by the test run."""
    paths = state_paths()
    paths.ensure()
    ensure_secrets(paths)
    settings = KitSettings()
    say = (lambda *_: None) if quiet else _say
    started = time.monotonic()
    say("postgres", infra.postgres_up(paths, PG_PORT))
    database = make_url(settings.database_url).database
    if database and database != "timbre":
        infra.ensure_database(PG_PORT, database)
    say("kafka", infra.kafka_up(paths, KAFKA_PORT, KAFKA_CONTROLLER_PORT))
    endpoints = {"database_url": settings.database_url, "kafka": settings.kafka_bootstrap}
    if with_s3 or settings.storage_backend == "s3":
        endpoints["s3"] = infra.s3_up(paths, S3_PORT)
        say("s3", endpoints["s3"])
    if settings.stripe_local:
        endpoints["stripe"] = infra.stripe_mock_up(paths, STRIPE_MOCK_PORT, STRIPE_MOCK_HTTPS_PORT)
        say("stripe-mock", endpoints["stripe"])
    migrate_all(settings.database_url)
    created = ensure_all_topics(settings.kafka_bootstrap, settings.topic_prefix)
    say("migrations+topics", f"{len(created)} topics created; infra ready in {time.monotonic() - started:.1f}s")
    return endpoints


def up(with_s3: bool = False) -> None:
    started = time.monotonic()
    infra_up(with_s3)
    paths = state_paths()
    env = {"TIMBRE_ENV_FILE": str(paths.root / "secrets.env"), "PYTHONUNBUFFERED": "1"}
    # Only billing talks to Stripe. Synthesis may deliver webhooks to receivers on this machine (a local
    # stack only: the egress guard refuses loopback and private addresses by default).
    service_env = {
        "billing": {**env, **stripe_env(KitSettings())},
        "synthesis": {**env, "TIMBRE_WEBHOOK_ALLOW_PRIVATE": "true"},
    }
    for service in SERVICES:
        if read_pid(paths, service.name) and port_open(service.port):
            _say(service.name, f"already running on {service.port}")
            continue
        terminate(paths, service.name)
        spawn(
            paths,
            service.name,
            [sys.executable, "-m", service.module],
            env=service_env.get(service.name, env),
            cwd=REPO,
        )
        wait_for(lambda s=service: _ready(s), 120, service.name)
        _say(service.name, f"ready on 127.0.0.1:{service.port}")
    _say("stack", f"up in {time.monotonic() - started:.1f}s; gateway http://127.0.0.1:{GATEWAY_PORT}")


def _ready(service: ServiceProc) -> bool:
    if not port_open(service.port):
        return False
    if service.kind == "http":
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{service.port}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING


def down() -> None:
    paths = state_paths()
    for service in reversed(SERVICES):
        if terminate(paths, service.name):
            _say(service.name, "stopped")
    if infra.stripe_mock_down(paths):
        _say("stripe-mock", "stopped")
    if infra.s3_down(paths):
        _say("s3", "stopped")
    if infra.kafka_down(paths):
        _say("kafka", "stopped")
    if infra.postgres_down(paths):
        _say("postgres", "stopped")


def status() -> list[tuple[str, str, str, str]]:
    paths = state_paths()
    rows = []
    pg_pid_file = paths.root / "pg" / "postmaster.pid"
    pg_pid = pg_pid_file.read_text().split()[0] if pg_pid_file.exists() else "-"
    rows.append(
        ("postgres", pg_pid, f"127.0.0.1:{PG_PORT}" if port_open(PG_PORT) else "down", str(paths.log_file("postgres")))
    )
    for name, port in (("kafka", KAFKA_PORT), ("s3", S3_PORT), ("stripe-mock", STRIPE_MOCK_PORT)):
        pid = read_pid(paths, name)
        rows.append(
            (
                name,
                str(pid or "-"),
                f"127.0.0.1:{port}" if pid and port_open(port) else "down",
                str(paths.log_file(name)),
            )
        )
    for service in SERVICES:
        pid = read_pid(paths, service.name)
        where = f"127.0.0.1:{service.port}" if pid and port_open(service.port) else "down"
        if where != "down" and service.name in METRICS_PORTS:
            where += f" (metrics :{METRICS_PORTS[service.name]})"
        rows.append((service.name, str(pid or "-"), where, str(paths.log_file(service.name))))
    return rows


def _say(component: str, message: str) -> None:
    print(f"  {component:<18} {message}", flush=True)
