"""Scale-out on the real local stack (processes, not containers): 2 synthesis API edges, 3 synthesis
workers, 2 embedding replicas, 2 gateways, one each of tenancy, billing and watermark.

- 60 jobs spread over all 3 workers; the worker running the long one is SIGKILLed mid-job, and that
  job completes once on another worker (one generation, one usage event);
- both embedding replicas refuse the same speaker already registered by another tenant;
- 200 concurrent short speech requests through both gateways: no 5xx, neither the concurrency limit nor
  the character quota is ever oversold, and exactly what the quota had left is sold.

Figures go to stdout (`pytest -s tests/scale`) and to docs/deploy.md."""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from cli.admin import grant_written_consent
from cli.client import operator_channel
from devstack.infra import ensure_database
from devstack.stack import PG_PORT, ensure_all_topics, migrate_all
from kit.config import KitSettings
from kit.events.envelope import unpack
from kit.events.topics import GENERATION_LIFECYCLE, USAGE, full_name
from kit.grpc.client import open_channel
from kit.grpc.convert import TIER_CODES
from tests.integration.enrollment_helpers import speech
from tests.integration.kafka_helpers import read_all
from tests.scale.cluster import Cluster, Layout
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

pytestmark = [pytest.mark.scale, pytest.mark.timeout(1200)]

DATABASE = "timbre_scale"
JOBS = 60
SHORT_JOB = "The quick brown fox jumps over the lazy dog near the quiet river bank. "  # 71 characters
LONG_JOB = SHORT_JOB * 40  # ~2800 characters: long enough to be killed mid-way
REQUESTS = 200
REQUEST_TEXT = "Good morning, this is a short request to test the quota."  # 56 characters
PRO_CHARACTERS = 500_000
LEFT = 5_000  # of the month's characters when the load starts: room for 89 requests


@pytest.fixture(scope="module")
def cluster(infra, engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    ensure_database(PG_PORT, DATABASE)
    started = time.monotonic()
    scaled = Cluster(Layout(), dict(os.environ), DATABASE)
    migrate_all(scaled.database_url)
    ensure_all_topics(infra.kafka_bootstrap, scaled.prefix)
    try:
        scaled.start()
        print(f"\nscale-out: {len(scaled.procs)} processes ready in {time.monotonic() - started:.0f}s")
        yield scaled
    except BaseException:
        print(scaled.logs())
        raise
    finally:
        scaled.stop()


def _operator(scaled: Cluster) -> KitSettings:
    """The operator's view of the cluster: its secret (the test run's) and the cluster's addresses."""
    return KitSettings(
        tenancy_addr=scaled.env["TIMBRE_TENANCY_ADDR"], embedding_addr=scaled.env["TIMBRE_EMBEDDING_ADDR"]
    )


def _tenant(scaled: Cluster, tier: str, name: str, with_id: bool = False):
    settings = _operator(scaled)
    with operator_channel(settings, settings.tenancy_addr) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=name, tier=TIER_CODES[tier])
        )
    return (reply.api_key_secret, reply.tenant.tenant_id) if with_id else reply.api_key_secret


def _clients(scaled: Cluster, api_key: str) -> list[httpx.Client]:
    return [
        httpx.Client(base_url=f"http://127.0.0.1:{g.port}", headers={"Authorization": f"Bearer {api_key}"}, timeout=300)
        for g in scaled.gateways
    ]


def _enroll(http: httpx.Client, audio: bytes, name: str) -> str:
    reply = http.post("/v1/voices", data={"name": name, "language": "en"}, files=[("files", ("v.wav", audio))])
    assert reply.status_code == 202, reply.text
    return reply.json()["id"]


def _wait_voice(http: httpx.Client, voice_id: str, done, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = http.get(f"/v1/voices/{voice_id}").raise_for_status().json()
        if done(voice):
            return voice
        time.sleep(0.5)
    raise AssertionError(f"voice {voice_id}: {voice}")


def _ready_voice(scaled: Cluster, http: httpx.Client, speaker: str, name: str) -> str:
    voice_id = _enroll(http, speech(speaker, 0, 1), name)
    analysed = _wait_voice(http, voice_id, lambda v: v["status"] != "processing" or v["progress"] >= 0.5)
    assert analysed["status"] != "rejected", analysed
    form = f"{name} consents to this tenant speaking in their voice.".encode()
    grant_written_consent(
        _operator(scaled),
        voice_id,
        hashlib.sha256(form).hexdigest(),
        datetime.now(UTC) + timedelta(days=30),
        name,
        "scale",
    )
    ready = _wait_voice(http, voice_id, lambda v: v["status"] != "processing")
    assert ready["status"] == "ready", ready
    _wait_speakable(http, voice_id)
    return voice_id


def _wait_speakable(http: httpx.Client, voice_id: str, timeout: float = 60) -> None:
    """Until synthesis has heard of the consent too: the voice is ready once built, and the consent
    reaches synthesis's read model through its own event, which may come a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        reply = http.post(f"/v1/voices/{voice_id}/speech", json={"text": "Hi.", "language": "en", "format": "mp3"})
        if reply.status_code == 200:
            return
        assert reply.json().get("reason") == "CONSENT_REQUIRED" and time.monotonic() < deadline, reply.text
        time.sleep(0.5)


def _events(scaled: Cluster, topic: str, expect: int | None = None) -> list:
    """Every event of the cluster's `topic`; with `expect`, waits until there are at least that many
    (an outbox relay publishes moments after the commit that the test may already have seen)."""
    records = read_all(full_name(scaled.prefix, topic), KitSettings().kafka_bootstrap, expect=expect, timeout=120)
    return [unpack(r.value()) for r in records]


def _starts(scaled: Cluster) -> list[tuple[str, int]]:
    """(job id, worker pid) of every GenerationStarted, in order."""
    return [
        (e.payload.job_id, int(e.payload.worker_id.rsplit(":", 1)[1]))
        for e in _events(scaled, GENERATION_LIFECYCLE.name)
        if e.type.endswith("GenerationStarted")
    ]


def _submit(clients: list[httpx.Client], voice_id: str, body: str, index: int) -> str:
    """Through alternate gateways; a tier's concurrent-job limit answers 429 and the client retries."""
    deadline = time.monotonic() + 300
    while True:
        reply = clients[index % len(clients)].post(
            "/v1/jobs", json={"voice_id": voice_id, "text": body, "language": "en", "format": "mp3"}
        )
        if reply.status_code == 202:
            return reply.json()["job_id"]
        assert reply.status_code == 429 and time.monotonic() < deadline, reply.text
        time.sleep(0.5)


def test_jobs_spread_over_workers_and_a_killed_workers_job_completes_once(cluster):
    scaled = cluster
    clients = _clients(scaled, _tenant(scaled, "enterprise", "Scale jobs"))
    voice_id = _ready_voice(scaled, clients[0], "joe", "Joe")
    started = time.monotonic()
    shorts = [_submit(clients, voice_id, f"Job {i}. {SHORT_JOB}", i) for i in range(JOBS - 1)]
    long_job = _submit(clients, voice_id, LONG_JOB, JOBS)
    pids = {w.pid: w for w in scaled.workers}

    # Kill the long job's worker once it runs it and every worker has done some of the others.
    deadline = time.monotonic() + 600
    while True:
        starts = _starts(scaled)
        busy = {pid for job, pid in starts if job != long_job}
        running_long = [pid for job, pid in starts if job == long_job]
        if running_long and busy >= set(pids):
            break
        assert time.monotonic() < deadline, f"starts so far: {starts}"
        time.sleep(0.5)
    victim = pids[running_long[0]]
    time.sleep(1.0)  # well into the job (it runs for many seconds), not at its first instant
    assert clients[0].get(f"/v1/jobs/{long_job}").json()["state"] == "running"
    victim.kill()
    killed_at = time.monotonic()

    jobs = [*shorts, long_job]
    deadline = time.monotonic() + 900
    while True:
        states = {j: clients[1].get(f"/v1/jobs/{j}").raise_for_status().json() for j in jobs}
        if all(s["state"] in ("succeeded", "failed", "cancelled") for s in states.values()):
            break
        assert time.monotonic() < deadline, Counter(s["state"] for s in states.values())
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    assert Counter(s["state"] for s in states.values()) == {"succeeded": JOBS}

    starts = _starts(scaled)
    finished_by: dict[str, int] = {}
    for job, pid in starts:
        finished_by[job] = pid  # the last start of a job is the run that finished it
    per_worker = Counter(finished_by[j] for j in jobs)
    long_runs = [pid for job, pid in starts if job == long_job]
    print(
        f"\nscale-out jobs: {JOBS} jobs in {elapsed:.0f}s; finished per worker "
        f"{ {pids[p].name: n for p, n in per_worker.items()} }; killed {victim.name} (pid {victim.pid}); "
        f"the long job ran on {[pids[p].name for p in long_runs]}, "
        f"done {time.monotonic() - killed_at:.0f}s after the kill"
    )
    assert set(per_worker) == set(pids) and all(n > 0 for n in per_worker.values())
    # Started by the victim, finished elsewhere (a rebalance may hand it on once more before it ends).
    assert long_runs[0] == victim.pid and victim.pid not in long_runs[1:] and len(long_runs) >= 2

    # One generation and one usage event for the killed job (and for every other job).
    with_gen = [s["generation_id"] for s in states.values()]
    assert all(with_gen) and len(set(with_gen)) == JOBS
    usage = Counter(
        e.payload.generation_ref for e in _events(scaled, USAGE.name, expect=JOBS) if e.type.endswith("UsageRecorded")
    )
    assert usage[long_job] == 1 and all(usage[j] == 1 for j in jobs)
    completed = Counter(
        e.payload.job_id for e in _events(scaled, GENERATION_LIFECYCLE.name) if e.type.endswith("GenerationCompleted")
    )
    assert completed[long_job] == 1
    db = create_engine(scaled.database_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                text("SELECT count(*) FROM synthesis.generations WHERE job_id = :j"), {"j": long_job}
            ).scalar()
    finally:
        db.dispose()
    assert rows == 1


def _consumed(proc) -> float:
    """How many enrollments this embedding replica's analysis consumer has handled."""
    total = 0.0
    for line in proc.metrics().splitlines():
        if line.startswith("timbre_events_consumed_total") and "VoiceEnrollmentRequested" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_both_embedding_replicas_refuse_a_voice_another_tenant_registered(cluster):
    scaled = cluster
    owner = _clients(scaled, _tenant(scaled, "pro", "Scale owner"))
    _ready_voice(scaled, owner[0], "en-us+m7", "Owner")
    thief = _clients(scaled, _tenant(scaled, "pro", "Scale thief"))
    before = [_consumed(p) for p in scaled.embedding]
    refused: list[dict] = []
    for attempt in range(16):
        voice_id = _enroll(thief[attempt % 2], speech("en-us+m7", 2, 3), f"copy {attempt}")
        voice = _wait_voice(thief[0], voice_id, lambda v: v["status"] != "processing" or v["progress"] >= 0.5)
        refused.append(voice)
        handled = [_consumed(p) - b for p, b in zip(scaled.embedding, before, strict=True)]
        if attempt >= 1 and all(h > 0 for h in handled):
            break
    print(f"\nscale-out duplicates: {len(refused)} attempts, analysed per replica {handled}")
    assert all(h > 0 for h in handled), handled
    assert [v["status"] for v in refused] == ["rejected"] * len(refused)
    assert {v["status_reason"] for v in refused} == {"VOICE_ALREADY_REGISTERED"}


def _use_up_to(scaled: Cluster, tenant_id: str, characters: int) -> None:
    """Record `characters` of earlier use, as synthesis does (reserve, then commit), straight at tenancy."""
    settings = _operator(scaled)
    with open_channel(settings.tenancy_addr) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        grant = tenancy_pb2.ServiceGrant(
            service_name="synthesis",
            secret=settings.service_secret.get_secret_value(),  # type: ignore[union-attr]
        )
        token = stub.IssueToken(tenancy_pb2.IssueTokenRequest(service=grant)).access_token
        auth = [("authorization", f"Bearer {token}")]
        reservation = stub.ReserveQuota(
            tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, characters=characters), metadata=auth
        ).reservation_id
        stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=reservation, characters=-1), metadata=auth)


def test_200_concurrent_requests_through_both_gateways_never_oversell_the_quota(cluster):
    scaled = cluster
    api_key, tenant_id = _tenant(scaled, "pro", "Scale load", with_id=True)  # 5 at once, 500,000 characters
    clients = _clients(scaled, api_key)
    voice_id = _ready_voice(scaled, clients[0], "en-us+f4", "Load")
    spoken = clients[0].get("/v1/me").raise_for_status().json()["usage"]["characters_used"]  # the readiness probe
    _use_up_to(scaled, tenant_id, PRO_CHARACTERS - LEFT - spoken)
    running: list[int] = []
    done = threading.Event()
    # One client per thread: an httpx client's connection pool is not for 200 threads at once.
    local = threading.local()

    def client(index: int) -> httpx.Client:
        if not hasattr(local, "clients"):
            local.clients = _clients(scaled, api_key)
        return local.clients[index % 2]

    def watch() -> None:
        (watcher_client, _) = _clients(scaled, api_key)
        while not done.is_set():
            running.append(watcher_client.get("/v1/me").raise_for_status().json()["usage"]["jobs_running"])
            time.sleep(0.1)

    def speak(index: int) -> tuple[int, int]:
        """Until served or refused for the quota; a full concurrency limit (429) is retried, as
        its Retry-After asks (sooner here: 1-2 s). (final status, concurrency refusals)"""
        busy = 0
        while True:
            reply = client(index).post(
                f"/v1/voices/{voice_id}/speech", json={"text": REQUEST_TEXT, "language": "en", "format": "mp3"}
            )
            if reply.status_code == 429 and reply.json()["reason"] == "CONCURRENCY_LIMIT":
                busy += 1
                time.sleep(1.0 + random.random())
                continue
            if reply.status_code == 429:
                assert reply.json()["reason"] == "QUOTA_EXCEEDED", reply.text
            return reply.status_code, busy

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        outcomes = list(pool.map(speak, range(REQUESTS)))
    elapsed = time.monotonic() - started
    done.set()
    watcher.join()
    codes = Counter(code for code, _ in outcomes)
    usage = clients[0].get("/v1/me").raise_for_status().json()["usage"]
    served = codes[200]
    print(
        f"\nscale-out load: {REQUESTS} concurrent clients in {elapsed:.0f}s: final answers {dict(codes)}, "
        f"{sum(b for _, b in outcomes)} concurrency refusals retried; at most {max(running)} generations at once "
        f"(tier limit 5); characters used {usage['characters_used']} of {PRO_CHARACTERS}"
    )
    assert set(codes) <= {200, 429} and not any(code >= 500 for code in codes)
    assert max(running) <= 5
    assert usage["characters_reserved"] == 0
    assert usage["characters_used"] == PRO_CHARACTERS - LEFT + served * len(REQUEST_TEXT) <= PRO_CHARACTERS
    assert served == LEFT // len(REQUEST_TEXT)  # every character the quota allowed was sold, and no more
    gateways = [re.findall(r'timbre_http_requests_total\{[^}]*status="5', g.metrics()) for g in scaled.gateways]
    assert gateways == [[], []]
