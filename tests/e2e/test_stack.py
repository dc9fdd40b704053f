"""The stack as an operator runs it: `timbre stack up` (real processes), the admin CLI, the REST
gateway on 127.0.0.1:8080, and graceful shutdown of a service process on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.processes import port_open
from tests.integration.synthesis_stack import free_port
from tests.stack_cli import REPO
from tests.stack_cli import timbre as run

pytestmark = pytest.mark.e2e


def test_stack_up_admin_cli_and_gateway():
    run("stack", "up")
    status = run("stack", "status")
    for component in ("postgres", "kafka", "tenancy", "billing", "embedding", "watermark", "synthesis", "gateway"):
        line = next(line for line in status.splitlines() if line.startswith(component))
        assert "127.0.0.1:" in line, status
    created = json.loads(run("admin", "tenant", "create", "--name", "E2E", "--tier", "free"))
    assert created["api_key"].startswith("tmb_")
    me = httpx.get("http://127.0.0.1:8080/v1/me", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert me.status_code == 200
    assert me.json()["tenant"]["id"] == created["tenant_id"]
    assert me.json()["limits"]["formats"] == ["mp3"]
    run("stack", "up")  # idempotent: a second `up` keeps what runs
    assert httpx.get("http://127.0.0.1:8080/ready").status_code == 200


def test_service_shuts_down_gracefully_on_sigterm(infra):
    grpc_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "TIMBRE_GRPC_PORT": str(grpc_port),
        "TIMBRE_METRICS_PORT": str(metrics_port),
        "TIMBRE_LOG_LEVEL": "INFO",
        "TIMBRE_RUN_WORKERS": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.tenancy.main"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.2)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert "timbre_grpc_requests_total" in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line)["event"] for line in process.stdout.read().splitlines() if line.startswith("{")]
    assert events.index("service_started") < events.index("service_stopping") < events.index("service_stopped")


def test_the_demo_reruns_within_the_tiers_voice_limit():
    """Each demo run enrolls a sample voice; a rerun removes the earlier ones first, and enrolls once
    the deletion has freed the profile (asynchronously, through the VoiceDeleted event)."""
    from cli import samples
    from cli.demo import _enroll_sample, _remove_earlier_samples

    run("stack", "up")
    created = json.loads(run("admin", "tenant", "create", "--name", "Demo rerun", "--tier", "free"))  # 1 voice
    audio = samples.wav_bytes(samples.joe(samples.PASSAGES[0]), fmt="flac")
    with httpx.Client(
        base_url="http://127.0.0.1:8080", timeout=60, headers={"Authorization": f"Bearer {created['api_key']}"}
    ) as http:
        assert _enroll_sample(http, audio, wait=0).status_code == 202
        full = _enroll_sample(http, audio, wait=0)
        assert full.status_code == 429 and full.json()["reason"] == "VOICE_PROFILE_LIMIT"
        assert _remove_earlier_samples(http) == 1
        assert _enroll_sample(http, audio, wait=60).status_code == 202
        assert [v["name"] for v in http.get("/v1/voices").json()["items"]] == ["Joe (sample)"]


def _get_health(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    conn.settimeout(10)
    return conn.recv(4096)


def test_gateway_keeps_an_idle_connection_longer_than_uvicorns_default():
    """A client that reuses a connection after 6 s of quiet (uvicorn's default closes it after 5) must
    be answered on it: a server that closes idle connections first races clients already sending."""
    port = free_port()
    env = {
        **os.environ,
        "TIMBRE_GATEWAY_PORT": str(port),
        "TIMBRE_CREDENTIAL_CACHE_SECONDS": "0",  # no caches: no event listener, nothing else to start
        "TIMBRE_JOB_STATUS_CACHE_SECONDS": "0",
    }
    process = subprocess.Popen([sys.executable, "-m", "gateway.main"], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert process.poll() is None and time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port)) as conn:
            assert _get_health(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6.0)
            assert _get_health(conn).startswith(b"HTTP/1.1 200"), "the gateway closed the idle connection"
    finally:
        process.terminate()
        process.wait(timeout=20)
