"""Settings from the environment (prefix ``TIMBRE_``) with safe defaults for a local stack.

Secrets have no defaults: ``make up`` writes random ones to ``.run/secrets.env``, which every
process reads, so nothing secret is hard-coded and operator/service grants stay disabled until set.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kit.errors import FailedPrecondition

if TYPE_CHECKING:
    from kit.crypto.envelope import KekRing

ENV_FILE = os.environ.get("TIMBRE_ENV_FILE", ".run/secrets.env")

# Well-known local ports; every one can be overridden through the environment.
SERVICE_PORTS = {
    "tenancy": 50051,
    "embedding": 50052,
    "synthesis": 50053,
    "watermark": 50054,
    "billing": 50055,
}
METRICS_PORTS = {
    "tenancy": 9101,
    "embedding": 9102,
    "synthesis": 9103,
    "watermark": 9104,
    "billing": 9105,
}


class KitSettings(BaseSettings):
    """What every process needs: where the stack is, and the deployment's secrets."""

    model_config = SettingsConfigDict(
        env_prefix="TIMBRE_", env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = "local"
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    state_dir: Path = Path(".run")

    database_url: str = "postgresql+psycopg://timbre@127.0.0.1:55432/timbre"
    db_pool_size: int = 10

    kafka_bootstrap: str = "127.0.0.1:59092"
    # Replicas of each topic `timbre migrate` creates: 1 on one broker, 3 on a production cluster.
    kafka_replication_factor: int = 1
    # Prepended to every topic and consumer group; lets test runs share one broker safely.
    topic_prefix: str = ""

    storage_backend: Literal["local", "s3"] = "local"
    storage_root: Path = Path(".run/objects")
    s3_endpoint: str = "127.0.0.1:59000"
    s3_access_key: str = "timbre"
    s3_secret_key: SecretStr = SecretStr("timbre-local")
    s3_bucket: str = "timbre"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    # Stripe served locally by stripe-mock (docs/stripe-local.md): `make up` starts it and points billing
    # at it. False: billing uses TIMBRE_STRIPE_API_KEY/_API_BASE as given (a real test account, or none).
    stripe_local: bool = True

    # Grants: an operator secret yields operator tokens, a service secret yields service tokens.
    operator_secret: SecretStr | None = None
    service_secret: SecretStr | None = None
    # The deployment's watermark key (hex, ≥ 16 bytes): synthesis marks with it, watermark detects with
    # it, embedding refuses consent recordings that carry it. `make up` writes a random one.
    watermark_key: SecretStr | None = None
    # Mark strength α in dB (quality/robustness trade-off: docs/watermark.md); any strength detects.
    watermark_strength_db: float = 1.5
    # Envelope encryption at rest (kit/crypto): the key-encryption key that wraps every voice's data key
    # (32 bytes, hex or base64), its id (stored with each wrapped key), and retired KEKs that still unwrap
    # ("id:key,id:key") until `timbre keys rotate` has rewrapped every data key. No default: `make up`
    # writes a random one, production takes it from its secret store.
    data_kek: SecretStr | None = None
    data_kek_id: str = "kek-1"
    data_keks_retired: SecretStr | None = None

    # gRPC targets. Several replicas: "ipv4:127.0.0.1:50053,127.0.0.1:50063" or "dns:///synthesis:50053"
    # (a headless Service); calls are spread over every address (kit/grpc/client.py: round_robin).
    tenancy_addr: str = f"127.0.0.1:{SERVICE_PORTS['tenancy']}"
    embedding_addr: str = f"127.0.0.1:{SERVICE_PORTS['embedding']}"
    synthesis_addr: str = f"127.0.0.1:{SERVICE_PORTS['synthesis']}"
    watermark_addr: str = f"127.0.0.1:{SERVICE_PORTS['watermark']}"
    billing_addr: str = f"127.0.0.1:{SERVICE_PORTS['billing']}"

    def watermark_key_bytes(self) -> bytes:
        if self.watermark_key is None:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY is not set (hex, at least 16 bytes)")
        try:
            key = bytes.fromhex(self.watermark_key.get_secret_value())
        except ValueError as exc:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY must be hex") from exc
        if len(key) < 16:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY must hold at least 16 bytes")
        return key

    def kek_ring(self) -> KekRing:
        """The data-key KEKs: the current one wraps, the retired ones only unwrap."""
        from kit.crypto.envelope import KekRing  # kit.crypto imports kit.storage, which imports this module

        if self.data_kek is None:
            raise FailedPrecondition("TIMBRE_DATA_KEK is not set (32 bytes, hex or base64)")
        keks = {self.data_kek_id: _kek_bytes("TIMBRE_DATA_KEK", self.data_kek.get_secret_value())}
        retired = self.data_keks_retired.get_secret_value() if self.data_keks_retired else ""
        for entry in filter(None, (part.strip() for part in retired.split(","))):
            kek_id, sep, value = entry.partition(":")
            if not sep or not kek_id:
                raise FailedPrecondition("TIMBRE_DATA_KEKS_RETIRED must read id:key,id:key")
            keks.setdefault(kek_id, _kek_bytes(f"retired KEK {kek_id!r}", value))
        return KekRing(self.data_kek_id, keks)


def _kek_bytes(name: str, value: str) -> bytes:
    """A 32-byte key from hex (64 characters) or base64."""
    value = value.strip()
    try:
        key = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise FailedPrecondition(f"{name} must be hex or base64") from exc
    if len(key) != 32:
        raise FailedPrecondition(f"{name} must hold 32 bytes")
    return key


class ServiceSettings(KitSettings):
    """A gRPC service process: its ports, pool sizes and shutdown grace."""

    service_name: str = "service"
    grpc_host: str = "127.0.0.1"
    # Where /metrics listens: loopback locally; 0.0.0.0 in a pod, so Prometheus can scrape it.
    metrics_host: str = "127.0.0.1"
    # Clients re-resolve a target's addresses when a connection ends: closing connections after this age
    # lets round-robin clients find replicas added since they connected (0: never).
    grpc_max_connection_age_seconds: float = 300.0
    # None: the service's well-known port; 0: any free port (tests).
    grpc_port: int | None = None
    metrics_port: int | None = None
    grpc_workers: int = 16
    shutdown_grace_seconds: float = 10.0
    # Background loops (outbox relay, consumers) can be turned off, e.g. for a read-only replica.
    run_workers: bool = True
    # Which part of a service this process runs, where the service has both (synthesis, embedding):
    # "edge" serves the gRPC API, "worker" runs the Kafka consumers (builds, jobs, analysis), "all" both
    # (the local stack). Edges and workers then scale separately (deploy/helm: Deployments per role).
    role: Literal["all", "edge", "worker"] = "all"
    relay_batch_size: int = 200
    relay_poll_seconds: float = 0.2
    # Outbox rows are deleted this long after they reached Kafka (0: kept for ever).
    outbox_retention_days: float = 7.0
    consumer_max_attempts: int = 5

    def model_post_init(self, __context) -> None:  # noqa: D401 - pydantic hook
        if self.grpc_port is None:
            self.grpc_port = SERVICE_PORTS.get(self.service_name, 50050)
        if self.metrics_port is None:
            self.metrics_port = METRICS_PORTS.get(self.service_name, 9100)
