"""Synthesis through the platform: time to the first audio byte of a streamed 200-character text
through the REST gateway (p50/p95) per format, at 1, 4 and 16 concurrent streams, next to the
engine's own first chunk in the same run (the difference is the platform's share: auth, quota, the
first marked piece, encoding, gRPC and HTTP), and long-form jobs per minute on this machine.

Starts the local stack if needed (`timbre stack up`). Usage:
  python -m bench.synthesis_latency [--requests 10] [--formats pcm_24000,mp3] [--concurrency 1,4,16]
                                    [--jobs 6] [--job-chars 600]"""

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
from services.synthesis.config import SynthesisSettings
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


def first_audio_byte(http: httpx.Client, voice_id: str, fmt: str) -> tuple[float, float, float]:
    """One streamed request: (ms to its first audio byte, ms to its end, the longest stall in ms).

    A stall (headerless PCM only, whose bytes are its duration): how far an arriving piece came after
    the audio before it would have finished playing, had playback started at the first byte."""
    started = time.perf_counter()
    got_first = None
    received = stall = 0.0
    bytes_per_second = 2 * int(fmt.split("_")[1]) if fmt.startswith("pcm_") else 0
    with http.stream(
        "POST",
        f"/v1/voices/{voice_id}/speech",
        json={"text": TEXT_200, "language": "en", "format": fmt, "stream": True},
    ) as reply:
        reply.raise_for_status()
        for piece in reply.iter_raw():
            if not piece:
                continue
            now = time.perf_counter()
            if got_first is None:
                got_first = now
            elif bytes_per_second:
                stall = max(stall, now - got_first - received / bytes_per_second)
            received += len(piece)
    assert got_first is not None, "an empty answer"
    return (got_first - started) * 1000, (time.perf_counter() - started) * 1000, stall * 1000


def time_to_first_byte(
    http: httpx.Client, voice_id: str, fmt: str, requests: int, concurrency: int = 1
) -> tuple[list[float], list[float], list[float]]:
    """`requests` streamed requests per client, `concurrency` clients at once (threads, one connection each)."""
    from concurrent.futures import ThreadPoolExecutor

    def client(_: int) -> list[tuple[float, float, float]]:
        with httpx.Client(base_url=GATEWAY, timeout=300, headers=dict(http.headers)) as own:
            return [first_audio_byte(own, voice_id, fmt) for _ in range(requests)]

    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for per_client in pool.map(client, range(concurrency)) for r in per_client]
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


def websocket_first_audio(key: str, voice_id: str, requests: int, gap: float) -> tuple[list[float], list[float]]:
    """Live sessions over the WebSocket, TEXT_200 sent a word at a time `gap` seconds apart (an LLM's
    pace): (ms from the first word to the first audio, ms from the first sentence's last word to it)."""
    import threading

    from websockets.sync.client import connect

    words = TEXT_200.split(" ")
    from_first, from_sentence = [], []
    url = f"ws://{GATEWAY.split('://', 1)[1]}/v1/voices/{voice_id}/speech/ws"

    def feed(socket, sentence_sent: list[float]) -> None:
        for word in words[1:]:
            time.sleep(gap)
            socket.send(json.dumps({"text": word + " "}))
            if word.endswith(".") and not sentence_sent:
                sentence_sent.append(time.perf_counter())
        socket.send(json.dumps({"end": True}))

    for _ in range(requests):
        with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as socket:
            sentence_sent: list[float] = []
            started = time.perf_counter()
            socket.send(json.dumps({"format": "pcm_24000", "language": "en", "text": words[0] + " "}))
            feeder = threading.Thread(target=feed, args=(socket, sentence_sent))
            feeder.start()
            first_audio = None
            while True:
                frame = socket.recv()
                if isinstance(frame, bytes):
                    first_audio = first_audio or time.perf_counter()
                elif json.loads(frame)["event"] != "start":
                    break  # done (or an error, which the assertion below reports)
            feeder.join()
        assert first_audio is not None, f"no audio: {frame!r}"
        from_first.append((first_audio - started) * 1000)
        from_sentence.append((first_audio - sentence_sent[0]) * 1000)
    return from_first, from_sentence


def engine_first_chunk(tenant_id: str, voice_id: str, requests: int) -> tuple[list[float], list[float]]:
    """The same engine, artifact and text in this process: its first chunk, and its first marked segment of audio
    (what the service's first marked segment waits for: STREAM_SEGMENT_SECONDS of audio)."""
    import torch

    from services.synthesis.engine.factory import make_engine
    from services.synthesis.engine.interface import SpeechOptions

    torch.set_num_threads(1)
    engine = make_engine(os.environ.get("TIMBRE_ENGINE"))
    artifact = _artifact(tenant_id, voice_id)
    list(engine.synthesize("Warm up.", artifact, SpeechOptions(language="en")))
    first, block = [], []
    segment = int(SynthesisSettings().stream_segment_seconds * engine.native_rate)
    for _ in range(requests):
        started = time.perf_counter()
        chunks = engine.synthesize(TEXT_200, artifact, SpeechOptions(language="en", realtime=True))
        produced = len(next(chunks))
        first.append((time.perf_counter() - started) * 1000)
        while produced < segment:
            produced += len(next(chunks))
        block.append((time.perf_counter() - started) * 1000)
        chunks.close()
    return first, block


def _artifact(tenant_id: str, voice_id: str) -> bytes:
    """The voice's artifact as the service reads it: stored encrypted under the voice's data key."""
    from kit.crypto import VoiceVault
    from kit.db.engine import make_engine as make_db
    from kit.events.outbox import Outbox
    from kit.storage import open_store
    from kit.storage.keys import artifact_key
    from services.synthesis.storage.repository import SqlUnitOfWork
    from services.synthesis.storage.tables import SCHEMA

    settings = SynthesisSettings()
    db = make_db(settings.database_url, 1)
    try:
        with SqlUnitOfWork(db, Outbox(SCHEMA, settings.service_name)).read() as repo:
            wrapped = repo.data_keys.data_key(voice_id)
    finally:
        db.dispose()
    return VoiceVault(open_store(settings), settings.kek_ring()).get(wrapped, artifact_key(tenant_id, voice_id))


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


STREAM_FORMATS = ("pcm_24000", "wav", "ulaw_8000", "mp3", "ogg", "flac")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="streamed requests per format at one stream")
    parser.add_argument("--formats", default=",".join(STREAM_FORMATS))
    parser.add_argument("--concurrency", default="1,4,16", help="concurrent streams to measure at")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--job-chars", type=int, default=600)
    args = parser.parse_args()
    formats = args.formats.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    from devstack import stack

    stack.up()
    settings = KitSettings()
    table: dict[tuple[str, int], dict[str, float]] = {}
    with httpx.Client(base_url=GATEWAY, timeout=300) as http:
        voice_id = _bench_voice(http, settings)
        time_to_first_byte(http, voice_id, "pcm_24000", 2)  # warm the path (connections, caches)
        engine, engine_block = engine_first_chunk(_tenant_of(http), voice_id, args.requests)
        totals: dict[str, float] = {}
        longest_stall: dict[int, float] = {}
        for level in levels:
            for fmt in formats if level == 1 else ("pcm_24000", "mp3"):
                # Each client makes enough requests for a p95 at this level (at least 2 each, 20 in all).
                per_client = args.requests if level == 1 else max(2, -(-20 // level))
                first, total, stalls = time_to_first_byte(http, voice_id, fmt, per_client, level)
                table[fmt, level] = percentiles(first)
                if fmt.startswith("pcm_"):
                    longest_stall[level] = max(stalls)
                if level == 1:
                    totals[fmt] = statistics.median(total)
        live_first, live_sentence = websocket_first_audio(
            http.headers["Authorization"][7:], voice_id, args.requests, 0.03
        )
        per_minute, audio_minutes, depth = jobs_per_minute(http, voice_id, args.jobs, args.job_chars)
    own, own_block = percentiles(engine), percentiles(engine_block)
    print(
        f"machine: {machine_facts()}; engine {os.environ.get('TIMBRE_ENGINE', 'embedded')}, one torch thread "
        f"per process, stack on this machine"
    )
    print(f"text: {len(TEXT_200)} characters, streamed through the REST gateway; {args.requests} requests a format")
    print(
        f"engine's own first chunk (same text and voice, in this process): "
        f"p50 {own['p50']:.0f} ms  p95 {own['p95']:.0f} ms"
    )
    print(
        f"engine's first {SynthesisSettings().stream_segment_seconds:.3f} s of audio (what a stream waited for before "
        f"slot-granular pieces): p50 {own_block['p50']:.0f} ms"
    )
    print(
        f"{'format':<10} {'streams':>7} {'first byte p50':>15} {'p95':>8} "
        f"{'platform share p50':>19} {'whole answer':>13}"
    )
    for (fmt, level), stats in table.items():
        share = f"{stats['p50'] - own['p50']:+.0f} ms" if level == 1 else ""
        whole = f"{totals[fmt]:.0f} ms" if level == 1 else ""
        print(f"{fmt:<10} {level:>7} {stats['p50']:>12.0f} ms {stats['p95']:>5.0f} ms {share:>19} {whole:>13}")
    live, after_sentence = percentiles(live_first), percentiles(live_sentence)
    print(
        f"WebSocket, pcm_24000, the text a word every 30 ms: first audio {live['p50']:.0f} ms after the first word "
        f"(p95 {live['p95']:.0f}); {after_sentence['p50']:.0f} ms after the first sentence's last word "
        f"(p95 {after_sentence['p95']:.0f}; the engine's first chunk {own['p50']:.0f})"
    )
    stalls = ", ".join(f"{level} stream(s) {ms:.0f} ms" for level, ms in longest_stall.items())
    print(f"longest stall of a PCM stream played from its first byte (0: never starved): {stalls}")
    print(
        f"jobs: {args.jobs} × {args.job_chars} characters → {per_minute:.2f} jobs/min, "
        f"{audio_minutes:.2f} minutes of audio per minute; max queue depth seen {depth:.0f}"
    )


def _tenant_of(http: httpx.Client) -> str:
    return http.get("/v1/me").json()["tenant"]["id"]


if __name__ == "__main__":
    main()
