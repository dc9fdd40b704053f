"""HTTP calls through the gateway as a tenant's client makes them, each classified by what the client
could tell: served, refused with a clear error, or not clear (a hang, an unexplained failure, a cut
stream that ended as if complete)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

# What a client may be told when the system is degraded: retry later (503 + Retry-After), over its
# limits (429 + Retry-After), or the upstream timed out (504).
CLEAR_STATUSES = {429, 503, 504}


@dataclass
class Outcome:
    kind: str  # "unary" | "stream" | "submit" | "enroll"
    started: float
    ended: float
    status: int  # HTTP status; 0: no response (transport error or timeout)
    verdict: str  # "ok" | "clear" | "cut" (stream broken after its headers: the client saw an error) | "unclear"
    detail: str = ""
    generation_id: int = 0
    body_bytes: int = 0


def _problem(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:200]
    return f"{body.get('reason')}: {body.get('detail', '')}"[:200]


def judge_refusal(kind: str, started: float, reply: httpx.Response) -> Outcome:
    """A non-2xx answer: clear when its status says retry/limit/timeout and it says when to retry."""
    retry_after = reply.headers.get("retry-after")
    clear = reply.status_code in CLEAR_STATUSES and (reply.status_code == 504 or bool(retry_after))
    detail = f"{_problem(reply)} (Retry-After: {retry_after})"
    return Outcome(kind, started, time.monotonic(), reply.status_code, "clear" if clear else "unclear", detail)


def speak(
    http: httpx.Client, voice_id: str, text: str, stream: bool, flowing: threading.Event | None = None
) -> Outcome:
    """One speech request; a streamed body is read to its end, as a player would. `flowing` is set
    once the first piece of audio has arrived."""
    kind = "stream" if stream else "unary"
    started = time.monotonic()
    body = {"text": text, "language": "en", "format": "mp3", "stream": stream}
    received = 0
    try:
        with http.stream("POST", f"/v1/voices/{voice_id}/speech", json=body) as reply:
            if reply.status_code != 200:
                reply.read()
                return judge_refusal(kind, started, reply)
            generation = int(reply.headers.get("timbre-generation-id") or 0)
            try:
                for piece in reply.iter_bytes():
                    received += len(piece)
                    if flowing is not None:
                        flowing.set()
            except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                # The body broke off: the client knows the file is incomplete.
                return Outcome(kind, started, time.monotonic(), 200, "cut", repr(error), generation, received)
            # A clean end: whether it was really complete is judged later, against the generation rows.
            return Outcome(kind, started, time.monotonic(), 200, "ok", "", generation, received)
    except httpx.TimeoutException as error:
        return Outcome(kind, started, time.monotonic(), 0, "unclear", f"hang: {error!r}", 0, received)
    except httpx.HTTPError as error:
        return Outcome(kind, started, time.monotonic(), 0, "unclear", repr(error), 0, received)


def submit_job(http: httpx.Client, voice_id: str, text: str, key: str) -> tuple[Outcome, str | None]:
    """One submission attempt (the caller retries with the same idempotency key); the job id when accepted."""
    started = time.monotonic()
    body = {"voice_id": voice_id, "text": text, "language": "en", "format": "mp3", "idempotency_key": key}
    try:
        reply = http.post("/v1/jobs", json=body)
    except httpx.TimeoutException as error:
        return Outcome("submit", started, time.monotonic(), 0, "unclear", f"hang: {error!r}"), None
    except httpx.HTTPError as error:
        return Outcome("submit", started, time.monotonic(), 0, "unclear", repr(error)), None
    if reply.status_code == 202:
        return Outcome("submit", started, time.monotonic(), 202, "ok"), reply.json()["job_id"]
    return judge_refusal("submit", started, reply), None


def concurrency_limited(outcome: Outcome) -> bool:
    return outcome.status == 429 and outcome.detail.startswith("CONCURRENCY_LIMIT")
