"""Streamed speech under concurrency: the bench voice (built once), then N streams at once through the
gateway, timed to their first byte, checked complete, and the characters tenancy charged compared with
the characters sent."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx

from bench.load.stack import BenchStack, Proc

SENTENCE = "Good morning, this is request {i:02d}, streamed to measure how soon its first sound arrives."


def _speaks(base: str, api_key: str, voice_id: str) -> bool:
    reply = httpx.post(
        f"{base}/v1/voices/{voice_id}/speech",
        json={"text": "Hi.", "language": "en", "format": "mp3"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=120,
    )
    return reply.status_code == 200


def bench_voice(stack: BenchStack, gateway: Proc, state: dict, save: Callable[[dict], None]) -> str:
    """The bench tenant's voice: the saved one if it still speaks, else enrolled and built now (minutes:
    embedding runs for this alone)."""
    base = f"http://127.0.0.1:{gateway.port}"
    if state.get("voice_id") and _speaks(base, state["api_key"], state["voice_id"]):
        return state["voice_id"]
    from cli import samples
    from cli.admin import grant_written_consent
    from kit.config import KitSettings

    embedding = stack.service("embedding").wait_ready()
    try:
        headers = {"Authorization": f"Bearer {state['api_key']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            audio = samples.wav_bytes(samples.speak("joe", " ".join(samples.PASSAGES[:2])))
            reply = http.post(
                "/v1/voices", data={"name": "bench joe", "language": "en"}, files=[("files", ("joe.wav", audio))]
            )
            reply.raise_for_status()
            voice_id = reply.json()["id"]
            voice = _wait(http, voice_id, lambda v: v["status"] != "processing" or v["progress"] >= 0.5)
            if voice["status"] == "rejected":
                raise SystemExit(f"bench voice rejected: {voice}")
            operator = KitSettings(
                tenancy_addr=stack.env["TIMBRE_TENANCY_ADDR"], embedding_addr=stack.env["TIMBRE_EMBEDDING_ADDR"]
            )
            grant_written_consent(
                operator,
                voice_id,
                hashlib.sha256(b"bench-load").hexdigest(),
                datetime.now(UTC) + timedelta(days=365),
                "bench",
                "load bench",
            )
            voice = _wait(http, voice_id, lambda v: v["status"] != "processing")
            if voice["status"] != "ready":
                raise SystemExit(f"bench voice not built: {voice}")
        deadline = time.monotonic() + 60
        while not _speaks(base, state["api_key"], voice_id):  # synthesis hears of the consent a moment later
            if time.monotonic() > deadline:
                raise SystemExit("the bench voice is ready but synthesis refuses to speak it")
            time.sleep(0.5)
    finally:
        embedding.stop()
    save({**state, "voice_id": voice_id})
    return voice_id


def _wait(http: httpx.Client, voice_id: str, done, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = http.get(f"/v1/voices/{voice_id}").raise_for_status().json()
        if done(voice):
            return voice
        time.sleep(1.0)
    raise SystemExit(f"voice {voice_id} still {voice['status']} after {timeout:.0f} s")


def _usage(base: str, api_key: str) -> dict:
    return (
        httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
        .raise_for_status()
        .json()["usage"]
    )


def stream_speech(base: str, api_key: str, voice_id: str, streams: int) -> dict:
    texts = [SENTENCE.format(i=i) for i in range(streams)]
    before = _usage(base, api_key)

    def one(body: str) -> tuple[float | None, int, int]:
        started = time.perf_counter()
        first = None
        size = 0
        with (
            httpx.Client(timeout=600) as http,
            http.stream(
                "POST",
                f"{base}/v1/voices/{voice_id}/speech",
                json={"text": body, "language": "en", "format": "mp3", "stream": True},
                headers={"Authorization": f"Bearer {api_key}"},
            ) as reply,
        ):
            for piece in reply.iter_raw():
                if piece and first is None:
                    first = (time.perf_counter() - started) * 1000
                size += len(piece)
            return first, reply.status_code, size

    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        results = list(pool.map(one, texts))
    wall = time.perf_counter() - started
    firsts = sorted(f for f, status, size in results if f is not None and status == 200)
    completed = [body for body, (_, status, size) in zip(texts, results, strict=True) if status == 200 and size > 0]
    # Reservations are committed as each stream ends; wait until none is left open.
    deadline = time.monotonic() + 60
    while (after := _usage(base, api_key))["characters_reserved"] and time.monotonic() < deadline:
        time.sleep(0.5)
    cuts = statistics.quantiles(firsts, n=100, method="inclusive") if len(firsts) > 1 else [firsts[0]] * 99
    return {
        "streams": streams,
        "complete": len(completed),
        "statuses": dict(Counter(status for _, status, _ in results)),
        "first_byte_p50_ms": cuts[49],
        "first_byte_p99_ms": cuts[98],
        "characters_sent": sum(len(t) for t in texts),
        # A refused request (401, 429, 402) is answered before any audio and must cost nothing.
        "characters_of_completed_streams": sum(len(t) for t in completed),
        "characters_charged": after["characters_used"] - before["characters_used"],
        "wall_seconds": wall,
    }
