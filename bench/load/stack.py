"""The processes the load bench runs against, on free ports, in their own database and topic prefix
(both kept between runs, so the bench voice is built once), over the local stack's shared PostgreSQL
and Kafka: tenancy, synthesis (edge and worker in one process), and gateways in the configurations
being compared. Embedding runs only while the bench voice is being made."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
DATABASE = "timbre_bench_load"
PREFIX = "bench-load."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    name: str
    module: str
    env: dict[str, str]
    port: int
    kind: str = "grpc"  # or "http"
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="bench-load-", suffix=".log")[1]))
    process: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its uvicorn workers stop with it
            )
        return self

    def wait_ready(self, timeout: float = 300) -> Proc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited: {self.tail()}")
            if self._ready():
                return self
            time.sleep(0.3)
        raise SystemExit(f"{self.name} not ready within {timeout:.0f}s: {self.tail()}")

    def _ready(self) -> bool:
        if self.kind == "http":
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError:
                return False
            return reply.status == health_pb2.HealthCheckResponse.SERVING

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the process and its descendants (uvicorn's workers): what a request
        costs, whatever else the machine runs at the same time."""
        assert self.process is not None
        return sum(_cpu(pid) for pid in _family(self.process.pid))


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after the command name, from field 3 (state)


def _cpu(pid: int) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _family(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    family, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        family += frontier
    return family


class BenchStack:
    def __init__(self) -> None:
        from sqlalchemy.engine import make_url

        from kit.config import KitSettings

        base = KitSettings()
        self.database_url = str(make_url(base.database_url).set(database=DATABASE))
        self.kafka_bootstrap = base.kafka_bootstrap
        self.ports = {name: free_port() for name in ("tenancy", "synthesis", "embedding", "watermark", "billing")}
        self.env = {
            **os.environ,
            "TIMBRE_DATABASE_URL": self.database_url,
            "TIMBRE_TOPIC_PREFIX": PREFIX,
            "TIMBRE_STORAGE_BACKEND": "local",
            "TIMBRE_STORAGE_ROOT": str(REPO / ".run" / "bench-load" / "objects"),
            "TIMBRE_LOG_LEVEL": "WARNING",
            "TIMBRE_DB_POOL_SIZE": "20",
            "PYTHONUNBUFFERED": "1",
            **{f"TIMBRE_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()},
        }
        self.procs: list[Proc] = []

    def prepare(self) -> None:
        """The database (migrated) and the prefixed topics; both survive the run."""
        from devstack.infra import ensure_database
        from devstack.stack import PG_PORT, ensure_all_topics, migrate_all

        ensure_database(PG_PORT, DATABASE)
        migrate_all(self.database_url)
        ensure_all_topics(self.kafka_bootstrap, PREFIX)

    def service(self, name: str, extra: dict[str, str] | None = None) -> Proc:
        env = {
            **self.env,
            **(extra or {}),
            "TIMBRE_GRPC_PORT": str(self.ports[name]),
            "TIMBRE_METRICS_PORT": str(free_port()),
        }
        proc = Proc(name, f"services.{name}.main", env, self.ports[name])
        self.procs.append(proc)
        return proc.start()

    def gateway(self, name: str, cache_seconds: float, workers: int, job_cache_seconds: float = 0.0) -> Proc:
        port = free_port()
        env = {
            **self.env,
            "TIMBRE_GATEWAY_PORT": str(port),
            "TIMBRE_GATEWAY_WORKERS": str(workers),
            "TIMBRE_CREDENTIAL_CACHE_SECONDS": str(cache_seconds),
            "TIMBRE_JOB_STATUS_CACHE_SECONDS": str(job_cache_seconds),
            # The load is one API key: the per-key limit must not be what is measured.
            "TIMBRE_RATE_LIMIT_PER_SECOND": "10000000",
            "TIMBRE_RATE_LIMIT_BURST": "10000000",
        }
        proc = Proc(name, "gateway.main", env, port, kind="http")
        self.procs.append(proc)
        return proc.start()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
