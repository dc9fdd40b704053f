"""A synthesis stack for the synthesis tests, under its own topic prefix (so it builds only its own
voices): embedding and watermark services and the synthesis gRPC edge in this process, the synthesis
workers (voice builds, jobs, relay, webhooks) in a child process that a test may SIGKILL."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.conftest import wait_serving

REPO = Path(__file__).resolve().parents[2]


# Test servers' ports come from below Linux's ephemeral range (32768-60999), and clear of the fixed
# ports the stacks use (2xxxx, 5xxxx): a port the kernel chose (bind to 0) is one it may also hand to an
# outgoing connection before the server that was given it binds, which happened once, to an embedding
# replica of the fault suite ("Address already in use").
_PORTS = range(30000, 32700)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that no earlier call of this process returned."""
    for port in random.sample(_PORTS, len(_PORTS)):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORTS.start}-{_PORTS.stop - 1}")


@dataclass
class Worker:
    """`python -m services.synthesis.main` with its workers on, as the stack runs it."""

    env: dict[str, str]
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="synthesis-worker-", suffix=".log")[1]))
    process: subprocess.Popen | None = None

    def start(self) -> Worker:
        port = free_port()
        env = {**self.env, "TIMBRE_GRPC_PORT": str(port), "TIMBRE_METRICS_PORT": str(free_port())}
        self.metrics_port = int(env["TIMBRE_METRICS_PORT"])
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.synthesis.main"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_serving(
                f"127.0.0.1:{port}",
                timeout=180,
                gave_up=lambda: self.process.poll() is not None and "the worker exited",
            )
        except AssertionError as error:
            self.stop()  # never leave a worker behind: it would relay this schema's outbox elsewhere
            raise AssertionError(f"the synthesis worker did not start ({error}): {self.tail()}") from None
        return self

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown hook runs
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics").text

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def worker_env(prefix: str, tenancy: str) -> dict[str, str]:
    return {
        **os.environ,
        "TIMBRE_TOPIC_PREFIX": prefix,
        "TIMBRE_TENANCY_ADDR": tenancy,
        "TIMBRE_LOG_LEVEL": "INFO",
        "TIMBRE_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "TIMBRE_WEBHOOK_POLL_SECONDS": "0.2",
        "TIMBRE_WEBHOOK_DISABLE_AFTER": "3",
        "TIMBRE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "TIMBRE_WEBHOOK_ALLOW_PRIVATE": "true",  # the tests' receivers listen on 127.0.0.1
        "PYTHONUNBUFFERED": "1",
    }


def wait_until(check, timeout: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout:.0f}s")
