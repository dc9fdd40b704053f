"""Gateway load: wrk against GET /v1/jobs/{id} (polling 200 jobs in turn) and GET /v1/me with the
credential cache off (the baseline: every request exchanges the API key at tenancy) and on, then with
the job-status cache on too, in the same run; how long a revoked
key keeps working through a caching gateway; and concurrent streamed speech requests (first byte
p50/p99, all complete, characters charged = characters sent).

Needs the local stack's PostgreSQL and Kafka (`make up`, or any running test infrastructure) and `wrk`.
Starts its own tenancy, synthesis and gateways on free ports, in database `timbre_bench_load` and topic
prefix `bench-load.` (kept, so the bench voice is built once: the first run enrolls and builds it).

  python -m bench.load [--duration 10] [--connections 32] [--workers 2] [--streams 50] [--no-speech]
  python -m bench.load --only jobs     # GET /v1/jobs/{id} alone, job-status cache off vs on (~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy import create_engine, text

from bench.common import machine_facts
from bench.load.speech import bench_voice, stream_speech
from bench.load.stack import REPO, BenchStack, Proc
from kit.config import KitSettings
from kit.grpc.client import bearer, open_channel
from kit.grpc.convert import TIER_CODES
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

STATE = REPO / ".run" / "bench-load" / "state.json"
WRK_SCRIPT = REPO / "bench" / "load" / "wrk.lua"


def _operator_token(stack: BenchStack) -> str:
    secret = KitSettings().operator_secret
    if secret is None:
        raise SystemExit("TIMBRE_OPERATOR_SECRET is not set (make up writes it to .run/secrets.env)")
    with open_channel(stack.env["TIMBRE_TENANCY_ADDR"]) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        return stub.IssueToken(tenancy_pb2.IssueTokenRequest(operator_secret=secret.get_secret_value())).access_token


def _tenant(stack: BenchStack) -> dict:
    """The bench tenant (enterprise: its quota must not be what stops the load), kept between runs."""
    if STATE.exists():
        return json.loads(STATE.read_text())
    with open_channel(stack.env["TIMBRE_TENANCY_ADDR"]) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="bench-load", tier=TIER_CODES["enterprise"]),
            metadata=bearer(_operator_token(stack)),
        )
    state = {"tenant_id": reply.tenant.tenant_id, "api_key": reply.api_key_secret}
    _save(state)
    return state


def _save(state: dict) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state))
    STATE.chmod(0o600)


JOB_COUNT = 200
RUNNING_EVERY = 4  # one job in four is running (kept 2 s by the job-status cache), the rest finished (60 s)


def _jobs(stack: BenchStack, tenant_id: str, count: int = JOB_COUNT) -> list[str]:
    """Jobs written straight into the bench database: job status reads need no voice or worker."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    engine = create_engine(stack.database_url)
    try:
        with engine.begin() as conn:
            for number, job_id in enumerate(ids):
                running = number % RUNNING_EVERY == 1
                conn.execute(
                    text(
                        "INSERT INTO synthesis.jobs (job_id, tenant_id, voice_id, user_id, tier, state, progress,"
                        " characters, language, format, speed, pitch, sample_rate, text_key, reservation_id,"
                        " audio_seconds) VALUES (:job, :tenant, :voice, 'bench', 3, :state, :progress, 600, 'en',"
                        " 'mp3', 1, 0, 0, 'bench/none', :reservation, :seconds)"
                    ),
                    {
                        "job": job_id,
                        "tenant": tenant_id,
                        "voice": str(uuid.uuid4()),
                        "reservation": str(uuid.uuid4()),
                        "state": "running" if running else "succeeded",
                        "progress": 0.5 if running else 1.0,
                        "seconds": 0.0 if running else 42.5,
                    },
                )
    finally:
        engine.dispose()
    return ids


def wrk(url: str, api_key: str, duration: int, connections: int, threads: int, job_ids: Sequence[str] = ()) -> dict:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    out = subprocess.run(
        command,
        env={**os.environ, "WRK_API_KEY": api_key, "WRK_JOB_IDS": ",".join(job_ids)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line.removeprefix("WRK_JSON "))


def revocation_delays(stack: BenchStack, gateway: Proc, api_key: str, job_id: str, rounds: int) -> list[dict]:
    """Per round: a new key, used until the gateway caches it, revoked at tenancy; then the gateway is
    polled on fresh connections (the kernel spreads them over the workers, each with its own cache) until
    it has refused the key 20 times in a row. The revocation took effect after the last accepted request
    was sent and before the first refusal of that streak was answered (times after RevokeApiKey returned)."""
    results = []
    with open_channel(stack.env["TIMBRE_TENANCY_ADDR"]) as channel:
        tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel)
        token = tenancy.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=api_key)).access_token
        for _ in range(rounds):
            created = tenancy.CreateApiKey(tenancy_pb2.CreateApiKeyRequest(name="bench-revoke"), metadata=bearer(token))
            path = f"http://127.0.0.1:{gateway.port}/v1/jobs/{job_id}"
            headers = {"Authorization": f"Bearer {created.api_key_secret}"}
            for _ in range(20):  # every worker gets to cache it
                httpx.get(path, headers=headers, timeout=10).raise_for_status()
            _wait_served_from_cache(gateway, path, headers)
            tenancy.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=created.api_key.key_id), metadata=bearer(token))
            revoked = time.perf_counter()
            first_refused = last_accepted = None
            streak = 0
            while streak < 20:
                asked = time.perf_counter()
                status = httpx.get(path, headers=headers, timeout=10).status_code
                if status == 401:
                    first_refused = first_refused if streak else time.perf_counter()
                    streak += 1
                else:
                    last_accepted, streak = asked, 0
                if asked - revoked > 60:
                    raise SystemExit("a revoked key still worked 60 s after its revocation")
            assert first_refused is not None
            results.append(
                {
                    "first_refusal_ms": (first_refused - revoked) * 1000,
                    "last_acceptance_ms": (last_accepted - revoked) * 1000 if last_accepted else 0.0,
                }
            )
    return results


def _cache_hits(gateway: Proc, metric: str = 'timbre_gateway_credentials_total{outcome="hit"}') -> float:
    metrics = httpx.get(f"http://127.0.0.1:{gateway.port}/metrics", timeout=10).text
    line = next((m for m in metrics.splitlines() if m.startswith(metric)), "")
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


JOB_STATUS_HITS = 'timbre_gateway_job_status_reads_total{outcome="hit"}'


def _wait_job_statuses_cached(gateway: Proc, base: str, api_key: str, job_id: str, timeout: float = 60) -> None:
    """Until a job read is served from the job-status cache: its listener must have vouched for it, or
    the run would measure the bypass (with several workers, only the worker that answers /metrics)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cache_hits(gateway, JOB_STATUS_HITS)
        for _ in range(4):
            httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=10).raise_for_status()
        if _cache_hits(gateway, JOB_STATUS_HITS) > before:
            return
        time.sleep(0.5)
    raise SystemExit("the gateway never served a job status from its cache (its event listener is not healthy)")


def _wait_served_from_cache(gateway: Proc, path: str, headers: dict[str, str], timeout: float = 30) -> None:
    """Until a request of the key is a cache hit: a loaded machine can starve the revocation listener past
    its 3 s, and then the cache is (rightly) bypassed, which would make the delay measured trivially 0.
    With several workers /metrics comes from any one of them: the check then only shows that one caches."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cache_hits(gateway)
        for _ in range(4):
            httpx.get(path, headers=headers, timeout=10).raise_for_status()
        if _cache_hits(gateway) > before:
            return
        time.sleep(0.5)
    raise SystemExit("the gateway never served the key from its cache (its revocation listener is not healthy)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes of the last configuration")
    parser.add_argument("--streams", type=int, default=50, help="concurrent streamed speech requests")
    parser.add_argument("--revocations", type=int, default=5)
    parser.add_argument("--no-speech", action="store_true")
    parser.add_argument(
        "--only",
        choices=["jobs"],
        help="jobs: GET /v1/jobs/{id} alone, job-status cache off and on (no /v1/me, revocation or speech)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/install_system.sh lists it)")

    jobs_only = args.only == "jobs"
    stack = BenchStack()
    stack.prepare()
    report: dict = {"machine": machine_facts(), "load": {}, "revocation": {}}
    print(f"machine: {report['machine']}", flush=True)
    try:
        tenancy = stack.service("tenancy").wait_ready()
        synthesis = stack.service("synthesis", {"TIMBRE_ROLE": "all"})
        state = _tenant(stack)
        job_ids = _jobs(stack, state["tenant_id"])
        synthesis.wait_ready()
        # (name, credential cache seconds, job-status cache seconds, gateway workers)
        configurations = [
            ("credential cache, 1 worker", 15.0, 0.0, 1),
            ("credential + job cache, 1 worker", 15.0, 2.0, 1),
            (f"credential + job cache, {args.workers} workers", 15.0, 2.0, args.workers),
        ]
        if not jobs_only:
            configurations.insert(0, ("no cache, 1 worker (baseline)", 0.0, 0.0, 1))
        reads = [(JOBS_LABEL, f"/v1/jobs/{job_ids[0]}", job_ids)]
        if not jobs_only:
            reads.append(("GET /v1/me", "/v1/me", []))
        for name, cache_seconds, job_cache_seconds, workers in configurations:
            gateway = stack.gateway(f"gateway ({name})", cache_seconds, workers, job_cache_seconds).wait_ready()
            base = f"http://127.0.0.1:{gateway.port}"
            for _ in range(50):  # warm-up: connections, the cache, the services' pools
                httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {state['api_key']}"}).raise_for_status()
            if job_cache_seconds:
                _wait_job_statuses_cached(gateway, base, state["api_key"], job_ids[0])
            figures = {}
            for label, path, polled in reads:
                procs = {"gateway": gateway, "tenancy": tenancy, "synthesis": synthesis}
                cpu_before = {part: proc.cpu_seconds() for part, proc in procs.items()}
                figures[label] = wrk(
                    base + path, state["api_key"], args.duration, args.connections, args.threads, polled
                )
                served = max(1, figures[label]["requests"])
                figures[label]["cpu_ms_per_request"] = {
                    part: round((proc.cpu_seconds() - cpu_before[part]) * 1000 / served, 3)
                    for part, proc in procs.items()
                }
                print(f"{name:<36} {label:<30} {_wrk_row(figures[label])}", flush=True)
            report["load"][name] = figures
            if cache_seconds and args.revocations and not jobs_only and (not job_cache_seconds or workers > 1):
                delays = revocation_delays(stack, gateway, state["api_key"], job_ids[0], args.revocations)
                report["revocation"][name] = delays
                print(f"{name:<36} revocation: {_delay_row(delays)}", flush=True)
            if not args.no_speech and not jobs_only and name == configurations[-1][0]:
                voice_id = bench_voice(stack, gateway, state, _save)
                report["speech"] = stream_speech(base, state["api_key"], voice_id, args.streams)
            gateway.stop()
    finally:
        stack.stop()
    _print_report(report, args)


JOBS_LABEL = f"GET /v1/jobs/{{id}} ({JOB_COUNT} jobs)"


def _wrk_row(f: dict) -> str:
    cpu = "  ".join(f"{part} {ms:.2f}" for part, ms in f.get("cpu_ms_per_request", {}).items())
    return (
        f"{f['rps']:8.1f} req/s  p50 {f['p50_ms']:7.2f} ms  p99 {f['p99_ms']:7.2f} ms  "
        f"non-2xx {f['non_2xx']}  socket errors {f['socket_errors']}  CPU ms/request: {cpu}"
    )


def _delay_row(delays: list[dict]) -> str:
    first = sorted(d["first_refusal_ms"] for d in delays)
    last = sorted(d["last_acceptance_ms"] for d in delays)
    return (
        f"refused for good by (answer) median {first[len(first) // 2]:.0f} ms, max {first[-1]:.0f} ms; "
        f"last accepted (sent) median {last[len(last) // 2]:.0f} ms, max {last[-1]:.0f} ms after RevokeApiKey "
        f"returned ({len(delays)} keys)"
    )


def _print_report(report: dict, args: argparse.Namespace) -> None:
    print(f"\nmachine: {report['machine']} (shared: the figures below include wrk and every service on it)")
    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s per run, one API key")
    load = report["load"]
    for label in (JOBS_LABEL, "GET /v1/me"):
        names = [name for name in load if label in load[name]]
        if not names:
            continue
        print(f"\n{label}")
        for name in names:
            print(f"  {name:<36} {_wrk_row(load[name][label])}")
        for name in names:
            cpu = load[name][label].get("cpu_ms_per_request", {})
            if cpu:
                ceiling = os.cpu_count() * 1000 / sum(cpu.values()) if sum(cpu.values()) else 0  # type: ignore[operator]
                print(
                    f"  {name:<36} CPU-bound ceiling on {os.cpu_count()} cores (Python processes only, "
                    f"not PostgreSQL or wrk): {ceiling:,.0f} req/s"
                )
        if len(names) > 1:
            baseline = load[names[0]][label]
            for name in names[1:]:
                f = load[name][label]
                print(
                    f"  ratio {name} ÷ {names[0]}: {f['rps'] / baseline['rps']:.2f}× req/s, "
                    f"p99 {f['p99_ms'] / baseline['p99_ms']:.2f}×"
                )
    for name, delays in report["revocation"].items():
        print(f"\nrevocation through {name}: {_delay_row(delays)}")
    if "speech" in report:
        s = report["speech"]
        print(
            f"\n{s['streams']} concurrent streamed speech requests: first byte p50 {s['first_byte_p50_ms']:.0f} ms, "
            f"p99 {s['first_byte_p99_ms']:.0f} ms; complete {s['complete']}/{s['streams']}; "
            f"statuses {s['statuses']}; characters sent {s['characters_sent']}, in completed streams "
            f"{s['characters_of_completed_streams']}, charged {s['characters_charged']} "
            f"({'exact' if s['characters_of_completed_streams'] == s['characters_charged'] else 'NOT exact'}); "
            f"wall {s['wall_seconds']:.1f} s"
        )
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
