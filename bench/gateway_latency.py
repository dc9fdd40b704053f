"""Gateway overhead: latency of GET /v1/me (API-key check + JWT + 2 gRPC calls + PostgreSQL) next to
GET /health (the HTTP floor) and a direct gRPC GetTenant, all in the same run against the local stack.

Needs `make up`. Starts its own gateway process (same code) on a free port with the rate limit
lifted, so the limiter does not cut the run short. Usage: python -m bench.gateway_latency [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx

from bench.common import machine_facts, percentiles, row
from kit.config import KitSettings
from kit.grpc.client import bearer, open_channel
from kit.grpc.convert import TIER_CODES
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


@contextmanager
def bench_gateway():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "TIMBRE_GATEWAY_PORT": str(port),
        "TIMBRE_RATE_LIMIT_PER_SECOND": "1000000",
        "TIMBRE_RATE_LIMIT_BURST": "1000000",
        "TIMBRE_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "gateway.main"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def _time(call, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    settings = KitSettings()
    with open_channel(settings.tenancy_addr) as channel:
        tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel)
        operator = tenancy.IssueToken(
            tenancy_pb2.IssueTokenRequest(operator_secret=settings.operator_secret.get_secret_value())
        ).access_token
        created = tenancy.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="bench", tier=TIER_CODES["enterprise"]), metadata=bearer(operator)
        )
        token = tenancy.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=created.api_key_secret)).access_token
        headers = {"Authorization": f"Bearer {created.api_key_secret}"}
        with bench_gateway() as url, httpx.Client(base_url=url, timeout=10) as http:
            for _ in range(20):  # warm-up
                http.get("/v1/me", headers=headers)
            health = _time(lambda: http.get("/health"), args.requests)
            me = _time(lambda: http.get("/v1/me", headers=headers).raise_for_status(), args.requests)
        grpc_direct = _time(
            lambda: tenancy.GetTenant(tenancy_pb2.GetTenantRequest(), metadata=bearer(token)), args.requests
        )
    results = {
        "/health (HTTP floor)": percentiles(health),
        "GET /v1/me (gateway)": percentiles(me),
        "gRPC GetTenant (direct)": percentiles(grpc_direct),
    }
    print(f"machine: {machine_facts()}")
    print(f"requests per case: {args.requests}, sequential, one client")
    for name, stats in results.items():
        print(row(name, stats))
    ratio = results["GET /v1/me (gateway)"]["p50"] / results["gRPC GetTenant (direct)"]["p50"]
    print(f"ratio p50 /v1/me ÷ direct gRPC GetTenant: {ratio:.1f}×")
    print(json.dumps({k: {m: round(v, 3) for m, v in s.items()} for k, s in results.items()}))


if __name__ == "__main__":
    main()
