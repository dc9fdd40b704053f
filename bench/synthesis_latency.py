"""Synthesis through the platform: time to the first audio byte of a streamed 200-character text
through the REST gateway (p50/p95), next to the engine's own first chunk in the same run (the ratio is
the platform's overhead: auth, quota, the first marked segment's audio, encoding, gRPC and HTTP), and
long-form jobs per minute on this machine.

Starts the local stack if needed (`timbre stack up`). Usage:
  python -m bench.synthesis_latency [--requests 10] [--jobs 6] [--job-chars 600]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.common import machine_facts, percentiles
from cli import samples
from cli.admin import grant_written_consent
from cli.client import operator_channel
from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

GATEWAY = "http://127.0.0.1:8080"
BENCH_SPEAKER = "jm_kumo"
TEXT_200 = (
    "Timbre speaks this sentence in a cloned voice to measure how soon the first sound arrives. "
    "The rest of the paragraph follows while the listener is already hearing the first words now."
)


def _tenant(settings: KitSettings) -> str:
    with operator_channel(settings, settings.tenancy_addr) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="bench-synthesis", tier=TIER_CODES["enterprise"])
        )
    return reply.api_key_secret


def _bench_voice(http: httpx.Client, settings: KitSettings) -> str:
    """The bench tenant and its voice, made once and kept in .run/bench-synthesis.json: enrolling the same
    speaker again from a new tenant would (rightly) be refused as an already registered voice."""
    from devstack import stack

    path = stack.state_paths().root / "bench-synthesis.json"
    if path.exists():
        saved = json.loads(path.read_text())
        http.headers["Authorization"] = f"Bearer {saved['api_key']}"
        reply = http.get(f"/v1/voices/{saved['voice_id']}")
        if reply.status_code == 200 and reply.json()["status"] == "ready":
            return saved["voice_id"]
    http.headers["Authorization"] = f"Bearer {_tenant(settings)}"
    voice_id = _ready_voice(http, settings)["id"]
    path.write_text(json.dumps({"api_key": http.headers["Authorization"][7:], "voice_id": voice_id}))
    path.chmod(0o600)
    return voice_id


def _ready_voice(http: httpx.Client, settings: KitSettings) -> dict:
    # A Kokoro speaker (bench-only weights) that neither the demo nor the tests enroll.
    audio = samples.wav_bytes(samples.speak(f"kokoro:{BENCH_SPEAKER}", " ".join(samples.PASSAGES[:3])), fmt="flac")
    voice = (
        http.post(
            "/v1/voices",
            data={"name": f"bench {BENCH_SPEAKER}", "language": "en"},
            files=[("files", ("joe.flac", audio, "audio/flac"))],
        )
        .raise_for_status()
        .json()
    )
    while (current := http.get(f"/v1/voices/{voice['id']}").json())["progress"] < 0.5:
        time.sleep(0.3)
    grant_written_consent(
        settings,
        voice["id"],
        hashlib.sha256(b"bench").hexdigest(),
        datetime.now(UTC) + timedelta(days=1),
        "bench",
        "benchmark",
    )
    while (current := http.get(f"/v1/voices/{voice['id']}").json())["status"] == "processing":
        time.sleep(0.3)
    if current["status"] != "ready":
        raise SystemExit(f"voice {current['status']}: {current.get('status_detail')}")
    return current


def time_to_first_byte(http: httpx.Client, voice_id: str, requests: int) -> tuple[list[float], list[float]]:
    first, total = [], []
    for _ in range(requests):
        started = time.perf_counter()
        with http.stream(
            "POST",
            f"/v1/voices/{voice_id}/speech",
            json={"text": TEXT_200, "language": "en", "format": "mp3", "stream": True},
        ) as reply:
            reply.raise_for_status()
            got_first = None
            for piece in reply.iter_raw():
                if piece and got_first is None:
                    got_first = time.perf_counter()
        first.append((got_first - started) * 1000)
        total.append((time.perf_counter() - started) * 1000)
    return first, total


def engine_first_chunk(tenant_id: str, voice_id: str, requests: int) -> tuple[list[float], list[float]]:
    """The same engine, artifact and text in this process: its first chunk, and its first marked segment of audio
    (what the service's first marked segment waits for: STREAM_SEGMENT_SECONDS of audio)."""
    import torch

    from kit.storage import open_store
    from kit.storage.keys import artifact_key
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.engine.factory import make_engine
    from services.synthesis.engine.interface import SpeechOptions

    torch.set_num_threads(1)
    engine = make_engine(os.environ.get("TIMBRE_ENGINE"))
    artifact = open_store(KitSettings()).get(artifact_key(tenant_id, voice_id))
    list(engine.synthesize("Warm up.", artifact, SpeechOptions(language="en")))
    first, block = [], []
    segment = int(SynthesisSettings().stream_segment_seconds * engine.native_rate)
    for _ in range(requests):
        started = time.perf_counter()
        chunks = engine.synthesize(TEXT_200, artifact, SpeechOptions(language="en"))
        produced = len(next(chunks))
        first.append((time.perf_counter() - started) * 1000)
        while produced < segment:
            produced += len(next(chunks))
        block.append((time.perf_counter() - started) * 1000)
        chunks.close()
    return first, block


def jobs_per_minute(http: httpx.Client, voice_id: str, jobs: int, chars: int) -> tuple[float, float, float]:
    text = (" ".join(samples.PASSAGES) * 4)[:chars]
    started = time.perf_counter()
    ids = [
        http.post("/v1/jobs", json={"voice_id": voice_id, "text": text, "language": "en"})
        .raise_for_status()
        .json()["job_id"]
        for _ in range(jobs)
    ]
    pending, audio_seconds, depth = set(ids), 0.0, 0.0
    while pending:
        for job_id in list(pending):
            job = http.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in ("succeeded", "failed", "cancelled"):
                if job["state"] != "succeeded":
                    raise SystemExit(f"job {job_id} {job['state']}: {job.get('error_detail')}")
                pending.discard(job_id)
                audio_seconds += job["audio_seconds"]
        depth = max(depth, _queue_depth())
        time.sleep(0.5)
    minutes = (time.perf_counter() - started) / 60
    return jobs / minutes, audio_seconds / 60 / minutes, depth


def _queue_depth() -> float:
    try:
        metrics = httpx.get("http://127.0.0.1:9103/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    line = next((m for m in metrics.splitlines() if m.startswith('voice_queue_depth{queue_name="jobs"}')), "")
    return float(line.split()[-1]) if line else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--job-chars", type=int, default=600)
    args = parser.parse_args()
    from devstack import stack

    stack.up()
    settings = KitSettings()
    with httpx.Client(base_url=GATEWAY, timeout=300) as http:
        voice_id = _bench_voice(http, settings)
        first, total = time_to_first_byte(http, voice_id, args.requests)
        engine, engine_block = engine_first_chunk(_tenant_of(http), voice_id, args.requests)
        per_minute, audio_minutes, depth = jobs_per_minute(http, voice_id, args.jobs, args.job_chars)
    gateway, own, own_block = percentiles(first), percentiles(engine), percentiles(engine_block)
    print(
        f"machine: {machine_facts()}; engine {os.environ.get('TIMBRE_ENGINE', 'embedded')}, one torch thread "
        f"per process, stack on this machine"
    )
    print(f"text: {len(TEXT_200)} characters, streamed mp3, {args.requests} requests")
    print(
        f"first audio byte through the gateway: p50 {gateway['p50']:.0f} ms  p95 {gateway['p95']:.0f} ms "
        f"(whole answer p50 {statistics.median(total):.0f} ms)"
    )
    print(f"engine's own first chunk (same run):  p50 {own['p50']:.0f} ms  p95 {own['p95']:.0f} ms")
    print(
        f"engine's first segment of audio (STREAM_SEGMENT_SECONDS: the service's first marked segment): "
        f"p50 {own_block['p50']:.0f} ms  "
        f"p95 {own_block['p95']:.0f} ms"
    )
    print(
        f"platform overhead: first byte / engine first chunk = {gateway['p50'] / own['p50']:.2f}× at p50 "
        f"(+{gateway['p50'] - own['p50']:.0f} ms, of which waiting for the first segment's audio "
        f"{own_block['p50'] - own['p50']:.0f} ms; the rest, auth + quota + marking + encoding + gRPC + HTTP, "
        f"{gateway['p50'] - own_block['p50']:.0f} ms)"
    )
    print(
        f"jobs: {args.jobs} × {args.job_chars} characters → {per_minute:.2f} jobs/min, "
        f"{audio_minutes:.2f} minutes of audio per minute; max queue depth seen {depth:.0f}"
    )


def _tenant_of(http: httpx.Client) -> str:
    return http.get("/v1/me").json()["tenant"]["id"]


if __name__ == "__main__":
    main()
