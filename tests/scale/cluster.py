"""A scaled-out Timbre on one machine: every role as its own real process (`python -m ...`), several
replicas where a deployment would run several, each on its own ports, in its own database and under
its own topic prefix, so nothing else the test run does can reach it (nor it them).

Replicas of a service are one gRPC target to their callers ("ipv4:a,b": kit/grpc/client.py spreads the
calls round-robin), as a headless Kubernetes Service is (deploy/helm)."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.integration.conftest import wait_serving
from tests.integration.synthesis_stack import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    """One process of the cluster: a service role or a gateway."""

    name: str
    module: str
    env: dict[str, str]
    port: int
    kind: str = "grpc"  # or "http"
    metrics_port: int | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="scale-", suffix=".log")[1]))
    process: subprocess.Popen | None = None

    def start(self) -> Proc:
        out = open(self.log, "ab")  # noqa: SIM115 - the child holds it for its whole life
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        gave_up = lambda: not self.alive() and f"{self.name} exited: {self.tail()}"  # noqa: E731
        if self.kind == "grpc":
            wait_serving(f"127.0.0.1:{self.port}", timeout=timeout, gave_up=gave_up)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if reason := gave_up():
                raise AssertionError(reason)
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready within {timeout:.0f}s: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no consumer-group leave, no offset commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> str:
        port = self.port if self.kind == "http" else self.metrics_port  # the gateway serves /metrics itself
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@dataclass
class Layout:
    synthesis_edges: int = 2
    synthesis_workers: int = 3
    embedding_replicas: int = 2
    gateways: int = 2


class Cluster:
    """Starts `layout` against the test run's PostgreSQL, Kafka, S3 and stripe-mock (the `infra` fixture)."""

    def __init__(self, layout: Layout, base_env: dict[str, str], database: str) -> None:
        self.layout = layout
        self.prefix = f"scale-{secrets.token_hex(3)}."
        self.database_url = str(make_url(base_env["TIMBRE_DATABASE_URL"]).set(database=database))
        self.procs: list[Proc] = []
        self.env = {
            **base_env,
            "TIMBRE_DATABASE_URL": self.database_url,
            "TIMBRE_TOPIC_PREFIX": self.prefix,
            "TIMBRE_STORAGE_BACKEND": "s3",
            "TIMBRE_S3_BUCKET": f"scale-{secrets.token_hex(3)}",
            "TIMBRE_LOG_LEVEL": "INFO",
            "TIMBRE_DB_POOL_SIZE": "20",
            # Quotas, not the per-key rate limit, must be what stops the load test.
            "TIMBRE_RATE_LIMIT_PER_SECOND": "1000",
            "TIMBRE_RATE_LIMIT_BURST": "1000",
            "PYTHONUNBUFFERED": "1",
        }

    def _proc(self, name: str, module: str, extra: dict[str, str], kind: str = "grpc", port: int | None = None) -> Proc:
        """`port`: one its callers were already given (the targets are set before the servers start)."""
        port, metrics = port or free_port(), free_port()
        env = {**self.env, **extra, "TIMBRE_METRICS_PORT": str(metrics)}
        env["TIMBRE_GATEWAY_PORT" if kind == "http" else "TIMBRE_GRPC_PORT"] = str(port)
        proc = Proc(name, module, env, port, kind, metrics)
        self.procs.append(proc)
        return proc

    def start(self, timeout: float = 240) -> Cluster:
        layout = self.layout
        singles = {name: free_port() for name in ("tenancy", "billing", "watermark")}
        embedding = [free_port() for _ in range(layout.embedding_replicas)]
        edges = [free_port() for _ in range(layout.synthesis_edges)]
        targets = {
            "TIMBRE_TENANCY_ADDR": f"127.0.0.1:{singles['tenancy']}",
            "TIMBRE_BILLING_ADDR": f"127.0.0.1:{singles['billing']}",
            "TIMBRE_WATERMARK_ADDR": f"127.0.0.1:{singles['watermark']}",
            "TIMBRE_EMBEDDING_ADDR": "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in embedding),
            "TIMBRE_SYNTHESIS_ADDR": "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in edges),
        }
        self.env.update(targets)
        from devstack.stack import stripe_env
        from kit.config import KitSettings

        extra = {"billing": stripe_env(KitSettings())}  # billing alone talks to Stripe (here stripe-mock)
        first: list[Proc] = []
        for name, port in singles.items():
            proc = self._proc(name, f"services.{name}.main", extra.get(name, {}), port=port)
            first.append(proc)
        first[0].start().wait_ready(timeout)  # everyone fetches tenancy's signing keys at start
        for proc in first[1:]:
            proc.start()
        self.embedding = []
        for i, port in enumerate(embedding):
            proc = self._proc(f"embedding-{i}", "services.embedding.main", {}, port=port)
            self.embedding.append(proc.start())
        self.edges = []
        for i, port in enumerate(edges):
            proc = self._proc(f"synthesis-edge-{i}", "services.synthesis.main", {"TIMBRE_ROLE": "edge"}, port=port)
            self.edges.append(proc.start())
        self.workers = [
            self._proc(
                f"synthesis-worker-{i}",
                "services.synthesis.main",
                {"TIMBRE_ROLE": "worker", "TIMBRE_JOB_POOL": "all"},
            ).start()
            for i in range(layout.synthesis_workers)
        ]
        self.gateways = [
            self._proc(f"gateway-{i}", "gateway.main", {}, kind="http").start() for i in range(layout.gateways)
        ]
        for proc in self.procs:
            proc.wait_ready(timeout)
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.tail(1500)}" for p in self.procs if p.process)
