"""The synthesis service against the real stack: voice builds, consent gate, unary and streamed
speech through REST and gRPC, watermark and provenance, quotas, jobs, webhooks, usage exactly once
when a worker is SIGKILLed mid-job."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from cli import samples
from kit.audio.codec import decode
from kit.grpc.client import open_channel
from tests.integration.conftest import bearer
from tests.integration.kafka_helpers import read_all
from tests.integration.synthesis_stack import Worker, wait_until, worker_env
from timbre.v1 import embedding_pb2, embedding_pb2_grpc, events_pb2, synthesis_pb2, synthesis_pb2_grpc, tenancy_pb2

pytestmark = pytest.mark.integration

JOB_TEXT = " ".join(samples.PASSAGES[:4])  # ~640 characters, ~40 s of speech


class Stack:
    """What the tests drive: REST (gateway TestClient), gRPC stubs, the worker process."""


@pytest.fixture(scope="module")
def syn(infra, tenancy, billing, issue, operator_token, tenancy_stub):
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, ensure_all_topics, migrate_all
    from gateway.app import create_app
    from gateway.config import GatewaySettings
    from kit.db.engine import make_engine
    from services.embedding.config import EmbeddingSettings
    from services.embedding.main import EmbeddingApp
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.main import SynthesisApp
    from services.watermark.config import WatermarkSettings
    from services.watermark.main import build as build_watermark

    # Own topics and own database: services of other test modules relay the same schemas' outboxes
    # under the run's base prefix, and would carry this stack's events away.
    prefix = f"{infra.topic_prefix}syn."
    ensure_all_topics(infra.kafka_bootstrap, prefix)
    url = make_url(infra.database_url).set(database="timbre_test_synthesis")
    ensure_database(PG_PORT, url.database)
    database_url = url.render_as_string(hide_password=False)
    migrate_all(database_url)
    common = {
        "grpc_port": 0,
        "metrics_port": 0,
        "tenancy_addr": tenancy,
        "topic_prefix": prefix,
        "database_url": database_url,
    }
    s = Stack()
    s.prefix, s.settings = prefix, infra
    s.db = make_engine(database_url)
    s.embedding = EmbeddingApp(EmbeddingSettings(**common))
    embedding_process = s.embedding.process().start()
    assert s.embedding.index_sync.caught_up.wait(60)
    watermark_process = build_watermark(WatermarkSettings(**common)).start()
    # The worker's builds read the samples from this embedding server (it alone holds their keys).
    embedding_addr = f"127.0.0.1:{embedding_process.port}"
    s.worker = Worker(
        {**worker_env(prefix, tenancy), "TIMBRE_DATABASE_URL": database_url, "TIMBRE_EMBEDDING_ADDR": embedding_addr}
    ).start()
    # The gRPC edge in this process; the workers run only in the child process.
    s.app = SynthesisApp(SynthesisSettings(**common, run_workers=False, webhook_allow_private=True))
    synthesis_process = s.app.process().start()
    addresses = {
        name: f"127.0.0.1:{p.port}"
        for name, p in (
            ("embedding", embedding_process),
            ("watermark", watermark_process),
            ("synthesis", synthesis_process),
        )
    }
    s.rest = TestClient(
        create_app(
            GatewaySettings(
                tenancy_addr=tenancy,
                billing_addr=billing,
                embedding_addr=addresses["embedding"],
                watermark_addr=addresses["watermark"],
                synthesis_addr=addresses["synthesis"],
                rate_limit_per_second=1000,
                rate_limit_burst=1000,
            )
        ),
        raise_server_exceptions=False,
    )
    channels = [open_channel(addresses["synthesis"], default_timeout=None), open_channel(addresses["embedding"])]
    s.synthesis = synthesis_pb2_grpc.SynthesisServiceStub(channels[0])
    s.embedding_stub = embedding_pb2_grpc.EmbeddingServiceStub(channels[1])
    s.embedding_stub_address = addresses["embedding"]
    s.tenancy_address = tenancy
    s.operator = operator_token

    def tenant(tier: str):
        from kit.grpc.convert import TIER_CODES

        reply = tenancy_stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=f"syn-{tier}", tier=TIER_CODES[tier]), metadata=bearer(operator_token)
        )
        key = reply.api_key_secret
        return Tenant(
            {"id": reply.tenant.tenant_id, "headers": {"Authorization": f"Bearer {key}"}},
            lambda: issue(tenancy_pb2.IssueTokenRequest(api_key=key)),
        )

    s.pro, s.free, s.other = tenant("pro"), tenant("free"), tenant("pro")
    s.pro_voice = enroll(s, s.pro, "joe")
    s.free_voice = enroll(s, s.free, "en-us+f3")
    yield s
    for channel in channels:
        channel.close()
    s.rest.close()
    s.worker.stop()
    for process in (synthesis_process, watermark_process, embedding_process):
        process.stop()
    s.db.dispose()


class Tenant(dict):
    """A test tenant; its "token" is issued afresh on each use (the module outlives a token's life)."""

    def __init__(self, values: dict, issue_token) -> None:
        super().__init__(values)
        self.issue_token = issue_token

    def __getitem__(self, key: str):
        return self.issue_token() if key == "token" else super().__getitem__(key)


def enroll(s: Stack, tenant: dict, speaker: str, passages=(0, 1, 2)) -> str:
    audio = samples.wav_bytes(samples.speak(speaker, " ".join(samples.PASSAGES[i] for i in passages)), fmt="flac")
    reply = s.rest.post(
        "/v1/voices",
        data={"name": speaker, "language": "en"},
        headers=tenant["headers"],
        files=[("files", ("ref.flac", audio, "audio/flac"))],
    )
    assert reply.status_code == 202, reply.text
    return reply.json()["id"]


def voice_of(s: Stack, tenant: dict, voice_id: str) -> dict:
    return s.rest.get(f"/v1/voices/{voice_id}", headers=tenant["headers"]).json()


def grant_consent(s: Stack, tenant: dict, voice_id: str) -> None:
    wait_until(lambda: voice_of(s, tenant, voice_id)["progress"] >= 0.5, 120, "voice analysed")
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    s.embedding_stub.GrantWrittenConsent(
        embedding_pb2.GrantWrittenConsentRequest(
            voice_id=voice_id,
            document_sha256="ab" * 32,
            details=embedding_pb2.ConsentDetails(
                owner_name="Owner", purpose="tests", expire_time=expire, prohibited_uses_acknowledged=[1, 2, 3, 4, 5]
            ),
        ),
        metadata=bearer(s.operator),
    )


def speak(s: Stack, tenant: dict, voice_id: str, **body):
    body.setdefault("text", "Hello from Timbre. This is a test of the synthesis service.")
    return s.rest.post(f"/v1/voices/{voice_id}/speech", json=body, headers=tenant["headers"])


def speak_once_allowed(s: Stack, tenant: dict, voice_id: str, timeout: float = 60, **body):
    """Speech as soon as the voice may speak (consent events take a moment to reach synthesis)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = speak(s, tenant, voice_id, **body)
        if reply.status_code == 200:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still {reply.status_code} {reply.text[:300]} after {timeout:.0f}s; worker log: {s.worker.tail()}"
            )
        time.sleep(0.3)


def problem(reply) -> dict:
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.text
    return reply.json()


def ready(s: Stack, tenant: dict, voice_id: str) -> None:
    wait_until(
        lambda: voice_of(s, tenant, voice_id)["status"] == "ready", 180, f"voice ready (worker log: {s.worker.tail()})"
    )


def usage_records(s: Stack) -> list[events_pb2.UsageRecorded]:
    from kit.events.envelope import unpack

    records = read_all(f"{s.prefix}timbre.usage.v1", s.settings.kafka_bootstrap, quiet_seconds=2.0)
    return [unpack(r.value()).payload for r in records]


# --- the main flow -------------------------------------------------------------------------------


def test_voice_is_built_then_speaks_marked_audio_with_provenance_and_usage(syn):
    s = syn
    # Before consent: the voice gets built, but may not speak.
    ready(s, s.pro, s.pro_voice)
    assert problem(speak(s, s.pro, s.pro_voice))["reason"] == "CONSENT_REQUIRED"
    grant_consent(s, s.pro, s.pro_voice)
    reply = speak_once_allowed(s, s.pro, s.pro_voice, language="en")
    assert reply.headers["content-type"] == "audio/mpeg"
    clip = decode(reply.content, target_rate=None)
    assert clip.seconds > 1.5
    generation_id = int(reply.headers["Timbre-Generation-Id"])
    assert generation_id >= 2**31  # synthesis numbers the upper half of the mark's id space

    found = s.rest.post(
        "/v1/watermark/detect", headers=s.pro["headers"], files=[("file", ("x.mp3", reply.content, "audio/mpeg"))]
    ).json()
    assert found["watermarked"] and found["generation_id"] == generation_id

    record = wait_until(
        lambda: (
            (r := s.rest.get(f"/v1/generations/{generation_id}/provenance", headers=s.pro["headers"])).status_code
            == 200
            and r.json()
        ),
        30,
        "provenance recorded from the generation event",
    )
    assert record["full_record"] and record["voice_id"] == s.pro_voice and record["tenant_id"] == s.pro["id"]
    assert record["api_version"] == "v1" and record["model"] == "embedded"
    others = s.rest.get(f"/v1/generations/{generation_id}/provenance", headers=s.other["headers"]).json()
    assert not others["full_record"] and others["voice_id"] is None and others["tenant_id"] is None

    usage = [u for u in usage_records(s) if u.generation_ref == str(generation_id)]
    assert len(usage) == 1
    assert usage[0].characters == len("Hello from Timbre. This is a test of the synthesis service.")
    assert usage[0].audio_seconds == pytest.approx(clip.seconds, abs=0.2) and usage[0].model == "embedded"

    thai = speak(s, s.pro, s.pro_voice, text="สวัสดีครับ ยินดีต้อนรับ", format="wav", sample_rate=16000)
    assert thai.status_code == 200 and thai.headers["content-type"] == "audio/wav"
    assert decode(thai.content, target_rate=None).sample_rate == 16000


def test_streaming_yields_several_chunks_that_decode_as_one_file(syn):
    s = syn
    grant_if_needed(s)
    text = " ".join(samples.PASSAGES[:2])
    messages = list(
        s.synthesis.SynthesizeStream(
            synthesis_pb2.SynthesizeStreamRequest(
                voice_id=s.pro_voice, text=text, options=synthesis_pb2.SpeechOptions(language="en", format=2)
            ),
            metadata=bearer(s.pro["token"]),
        )
    )
    assert len(messages) > 1
    assert [m.sequence for m in messages] == list(range(len(messages)))
    assert messages[-1].last and not any(m.last for m in messages[:-1])
    audio = b"".join(m.audio for m in messages)
    clip = decode(audio, target_rate=None)
    assert clip.seconds > 8
    found = s.rest.post(
        "/v1/watermark/detect", headers=s.pro["headers"], files=[("file", ("x.wav", audio, "audio/wav"))]
    ).json()
    assert found["generation_id"] == int(messages[0].generation_id)

    with s.rest.stream(
        "POST",
        f"/v1/voices/{s.pro_voice}/speech",
        headers=s.pro["headers"],
        json={"text": text, "language": "en", "stream": True},
    ) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"] == "audio/mpeg"
        pieces = [piece for piece in reply.iter_raw() if piece]
    assert len(pieces) > 1
    assert decode(b"".join(pieces), target_rate=None).seconds > 8


def grant_if_needed(s: Stack) -> None:
    ready(s, s.pro, s.pro_voice)
    if speak(s, s.pro, s.pro_voice, text="Hi.").status_code != 200:
        grant_consent(s, s.pro, s.pro_voice)
        speak_once_allowed(s, s.pro, s.pro_voice, text="Hi.")


# --- clear errors --------------------------------------------------------------------------------


def test_limits_formats_ids_and_voice_states_give_clear_errors(syn):
    s = syn
    grant_if_needed(s)
    too_long = problem(speak(s, s.pro, s.pro_voice, text="a" * 5001))
    assert too_long["status"] == 400 and too_long["reason"] == "TEXT_TOO_LONG"
    assert too_long["metadata"]["limit"] == "5000"
    assert problem(speak(s, s.other, s.pro_voice))["status"] == 404  # another tenant's voice: not found
    assert problem(speak(s, s.pro, "00000000-0000-4000-8000-000000000000"))["status"] == 404
    assert problem(speak(s, s.pro, "not-an-id"))["status"] == 404
    assert problem(speak(s, s.pro, s.pro_voice, speed=3.0))["status"] == 422  # the body schema says 0.5–2

    ready(s, s.free, s.free_voice)
    assert problem(speak(s, s.free, s.free_voice))["reason"] == "CONSENT_REQUIRED"  # built, no consent yet
    grant_consent(s, s.free, s.free_voice)
    speak_once_allowed(s, s.free, s.free_voice, text="Hi.")
    wav = problem(speak(s, s.free, s.free_voice, format="wav"))
    assert wav["status"] == 403 and wav["reason"] == "FORMAT_NOT_IN_TIER"

    short = samples.wav_bytes(samples.espeak("Too short.", "en-us+m5"))
    rejected = s.rest.post(
        "/v1/voices",
        data={"name": "short", "language": "en"},
        headers=s.pro["headers"],
        files=[("files", ("s.wav", short, "audio/wav"))],
    ).json()["id"]
    not_ready = wait_until(
        lambda: (p := problem(speak(s, s.pro, rejected)))["status"] == 409 and p,
        60,
        "rejected voice known to synthesis",
    )
    assert not_ready["reason"] == "VOICE_NOT_READY"


def test_consent_recording_carrying_our_watermark_is_refused(syn):
    s = syn
    grant_if_needed(s)
    challenge = s.rest.post(f"/v1/voices/{s.pro_voice}/consent/challenge", headers=s.pro["headers"], json={}).json()
    clone = speak(s, s.pro, s.pro_voice, text=challenge["statement"], language="en")
    assert clone.status_code == 200
    reply = s.rest.post(
        f"/v1/voices/{s.pro_voice}/consent",
        headers=s.pro["headers"],
        data={
            "challenge_id": challenge["challenge_id"],
            "owner_name": "Joe",
            "purpose": "tests",
            "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "prohibited_uses_acknowledged": [
                "fraud_impersonation",
                "non_consensual_content",
                "political_manipulation",
                "harassment_defamation",
                "undisclosed_deepfake",
            ],
        },
        files=[("file", ("consent.mp3", clone.content, "audio/mpeg"))],
    )
    body = problem(reply)
    assert body["status"] == 403 and body["reason"] == "CONSENT_WATERMARKED"


# --- jobs, webhooks, quotas ----------------------------------------------------------------------


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def job(s: Stack, tenant: dict, job_id: str) -> dict:
    return s.rest.get(f"/v1/jobs/{job_id}", headers=tenant["headers"]).json()


def test_free_tier_job_second_refused_result_and_signed_webhook(syn):
    from services.synthesis.domain.webhooks import SIGNATURE_HEADER, verify

    s = syn
    ready(s, s.free, s.free_voice)
    if speak(s, s.free, s.free_voice, text="Hi.").status_code != 200:
        grant_consent(s, s.free, s.free_voice)
        speak_once_allowed(s, s.free, s.free_voice, text="Hi.")
    receiver = Receiver()
    try:
        hook = s.rest.post("/v1/webhooks", headers=s.free["headers"], json={"url": receiver.url})
        assert hook.status_code == 201 and hook.json()["secret"].startswith("whsec_")
        secret = hook.json()["secret"]
        first = s.rest.post(
            "/v1/jobs",
            headers=s.free["headers"],
            json={"voice_id": s.free_voice, "text": samples.PASSAGES[3], "language": "en"},
        )
        assert first.status_code == 202, first.text
        second = s.rest.post(
            "/v1/jobs",
            headers=s.free["headers"],
            json={"voice_id": s.free_voice, "text": samples.PASSAGES[4], "language": "en"},
        )
        body = problem(second)
        assert body["status"] == 429 and body["reason"] == "CONCURRENCY_LIMIT" and second.headers["Retry-After"]
        job_id = first.json()["job_id"]
        done = wait_until(
            lambda: (j := job(s, s.free, job_id))["state"] in ("succeeded", "failed") and j,
            180,
            f"job done ({s.worker.tail()})",
        )
        assert done["state"] == "succeeded" and done["progress"] == 1.0 and done["generation_id"]
        audio = s.rest.get(f"/v1/jobs/{job_id}/audio", headers=s.free["headers"])
        assert audio.headers["content-type"] == "audio/mpeg"
        assert decode(audio.content, target_rate=None).seconds == pytest.approx(done["audio_seconds"], abs=0.2)
        # Streamed from ReadJobAudio through the real synthesis edge: its size up front, and byte ranges.
        assert int(audio.headers["content-length"]) == len(audio.content)
        assert audio.headers["accept-ranges"] == "bytes"
        tail = s.rest.get(f"/v1/jobs/{job_id}/audio", headers={**s.free["headers"], "Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == audio.content[-100:]
        size = len(audio.content)
        assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
        assert s.rest.get(f"/v1/jobs/{job_id}/audio", headers=s.pro["headers"]).status_code == 404

        headers, payload = wait_until(lambda: receiver.received and receiver.received[0], 30, "webhook delivery")
        assert json.loads(payload)["job_id"] == job_id and json.loads(payload)["type"] == "job.succeeded"
        assert verify(secret, headers[SIGNATURE_HEADER], payload, int(time.time()))
        assert not verify("whsec_wrong", headers[SIGNATURE_HEADER], payload, int(time.time()))
        # The slot is back: a new job is accepted, and cancelling it gives its slot back again.
        third = s.rest.post(
            "/v1/jobs", headers=s.free["headers"], json={"voice_id": s.free_voice, "text": JOB_TEXT, "language": "en"}
        )
        assert third.status_code == 202, third.text
        cancelled = s.rest.delete(f"/v1/jobs/{third.json()['job_id']}", headers=s.free["headers"]).json()
        assert cancelled["state"] == "cancelled"
        over = problem(
            s.rest.post(
                "/v1/jobs",
                headers=s.free["headers"],
                json={"voice_id": s.free_voice, "text": "a" * 10_001, "language": "en"},
            )
        )
        assert over["status"] == 429 and over["reason"] == "QUOTA_EXCEEDED"
        assert over["metadata"]["limit"] == "10000" and over["metadata"]["reset_time"].startswith("20")
        fourth = s.rest.post(
            "/v1/jobs",
            headers=s.free["headers"],
            json={"voice_id": s.free_voice, "text": "Short one.", "language": "en"},
        )
        assert fourth.status_code == 202, fourth.text
    finally:
        receiver.close()


def test_failing_webhook_is_retried_then_disabled_with_its_reason(syn):
    s = syn
    grant_if_needed(s)
    dead = "http://127.0.0.1:9/unreachable"  # discard port: nothing listens
    hook = s.rest.post("/v1/webhooks", headers=s.pro["headers"], json={"url": dead, "events": ["job.succeeded"]})
    submitted = s.rest.post(
        "/v1/jobs", headers=s.pro["headers"], json={"voice_id": s.pro_voice, "text": "A short job.", "language": "en"}
    ).json()
    wait_until(lambda: job(s, s.pro, submitted["job_id"])["state"] == "succeeded", 120, "job done")
    listed = wait_until(
        lambda: next(
            (
                w
                for w in s.rest.get("/v1/webhooks", headers=s.pro["headers"]).json()["items"]
                if w["webhook_id"] == hook.json()["webhook_id"] and w["disabled"]
            ),
            None,
        ),
        60,
        "webhook disabled",
    )
    assert listed["consecutive_failures"] == 3 and "3 deliveries failed in a row" in listed["disabled_reason"]
    assert "secret" not in listed


def test_worker_killed_mid_job_completes_once_and_records_usage_once(syn):
    from services.synthesis.storage.tables import generations, jobs

    s = syn
    grant_if_needed(s)
    submitted = s.rest.post(
        "/v1/jobs", headers=s.pro["headers"], json={"voice_id": s.pro_voice, "text": JOB_TEXT * 2, "language": "en"}
    ).json()
    job_id = submitted["job_id"]
    wait_until(lambda: job(s, s.pro, job_id)["progress"] > 0.05, 120, f"job under way ({s.worker.tail()})")
    s.worker.kill()
    assert job(s, s.pro, job_id)["state"] == "running"
    s.worker.start()
    done = wait_until(
        lambda: (j := job(s, s.pro, job_id))["state"] in ("succeeded", "failed") and j,
        300,
        f"job done after the restart ({s.worker.tail()})",
    )
    assert done["state"] == "succeeded"
    with s.db.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).one()
        rows = conn.execute(select(generations).where(generations.c.job_id == job_id)).all()
    assert row.attempts == 2
    assert len(rows) == 1 and rows[0].generation_id == done["generation_id"]
    usage = [u for u in usage_records(s) if u.generation_ref == job_id]
    assert len(usage) == 1 and usage[0].characters == len(JOB_TEXT * 2)
    assert "voice_queue_depth" in s.worker.metrics()


def test_grpc_edge_errors_carry_reasons_and_long_text_goes_to_jobs(syn):
    from kit.grpc.status import error_info

    s = syn
    grant_if_needed(s)

    def failure(call) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        return caught.value.code(), error_info(caught.value).reason

    mp3 = synthesis_pb2.SpeechOptions(language="en", format=1)
    assert failure(
        lambda: s.synthesis.Synthesize(
            synthesis_pb2.SynthesizeRequest(voice_id=s.pro_voice, text="a" * 5001, options=mp3),
            metadata=bearer(s.pro["token"]),
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "TEXT_TOO_LONG")
    assert (
        failure(
            lambda: s.synthesis.Synthesize(
                synthesis_pb2.SynthesizeRequest(voice_id=s.pro_voice, text="Hello.", options=mp3),
                metadata=bearer(s.other["token"]),
            )
        )[0]
        == grpc.StatusCode.NOT_FOUND
    )
    assert failure(
        lambda: list(
            s.synthesis.SynthesizeStream(
                synthesis_pb2.SynthesizeStreamRequest(voice_id=s.pro_voice, text="a" * 5001, options=mp3),
                metadata=bearer(s.pro["token"]),
            )
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "TEXT_TOO_LONG")
    assert failure(
        lambda: s.synthesis.SubmitJob(
            synthesis_pb2.SubmitJobRequest(voice_id=s.pro_voice, text="a" * 100_001, options=mp3),
            metadata=bearer(s.pro["token"]),
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "TEXT_TOO_LONG")
    assert (
        failure(
            lambda: s.synthesis.GetJob(synthesis_pb2.GetJobRequest(job_id="nope"), metadata=bearer(s.pro["token"]))
        )[0]
        == grpc.StatusCode.NOT_FOUND
    )

    # Past the 5000-character limit of a request, a job takes the text; the same key gives the same job.
    long_text = (" ".join(samples.PASSAGES) + " ") * 8
    assert len(long_text) > 5000
    request = synthesis_pb2.SubmitJobRequest(voice_id=s.pro_voice, text=long_text, options=mp3, idempotency_key="k1")
    first = s.synthesis.SubmitJob(request, metadata=bearer(s.pro["token"])).job
    again = s.synthesis.SubmitJob(request, metadata=bearer(s.pro["token"])).job
    assert again.job_id == first.job_id and first.characters == len(long_text)
    assert first.state in (synthesis_pb2.JOB_STATE_QUEUED, synthesis_pb2.JOB_STATE_RUNNING)
    cancelled = s.synthesis.CancelJob(
        synthesis_pb2.CancelJobRequest(job_id=first.job_id), metadata=bearer(s.pro["token"])
    ).job
    assert cancelled.state == synthesis_pb2.JOB_STATE_CANCELLED
    assert (
        failure(
            lambda: s.synthesis.CancelJob(
                synthesis_pb2.CancelJobRequest(job_id=first.job_id), metadata=bearer(s.pro["token"])
            )
        )[0]
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    listed = s.synthesis.ListJobs(
        synthesis_pb2.ListJobsRequest(state=synthesis_pb2.JOB_STATE_CANCELLED), metadata=bearer(s.pro["token"])
    ).jobs
    assert first.job_id in [j.job_id for j in listed]
    assert all(j.state == synthesis_pb2.JOB_STATE_CANCELLED for j in listed)


def test_admin_cli_records_a_written_consent(syn):
    from click.testing import CliRunner

    from cli.admin import admin

    s = syn
    voice = enroll(s, s.other, "en-us+m7", passages=(3, 4, 5))
    wait_until(lambda: voice_of(s, s.other, voice)["progress"] >= 0.5, 120, "voice analysed")
    env = {"TIMBRE_EMBEDDING_ADDR": s.embedding_stub_address, "TIMBRE_TENANCY_ADDR": s.tenancy_address}
    result = CliRunner().invoke(
        admin,
        ["consent", "grant", "--voice", voice, "--document-sha256", "CD" * 32, "--expires", "2099-01-31"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    granted = json.loads(result.output)
    assert granted["kind"] == "written" and granted["expires"] == "2099-01-31"
    consent = s.rest.get(f"/v1/voices/{voice}/consent", headers=s.other["headers"]).json()
    assert consent["id"] == granted["consent_id"] and consent["kind"] == "written"
    bad = CliRunner().invoke(
        admin, ["consent", "grant", "--voice", voice, "--document-sha256", "xyz", "--expires", "2099-01-31"], env=env
    )
    assert bad.exit_code != 0 and "document_sha256" in bad.output


# Last: it takes the pro voice's consent away for good.
def test_revoked_consent_stops_the_voice_and_removes_its_model(syn):
    s = syn
    grant_if_needed(s)
    key = f"models/{s.pro['id']}/{s.pro_voice}/speaker.pth"
    assert s.app.artifacts.store.exists(key)
    assert s.rest.delete(f"/v1/voices/{s.pro_voice}/consent", headers=s.pro["headers"]).status_code == 200
    body = wait_until(
        lambda: (r := speak(s, s.pro, s.pro_voice)).status_code == 409 and problem(r),
        60,  # through the outbox relay, Kafka and the worker process's consumer; the whole suite's load
        "revocation reaches synthesis",
    )
    assert body["reason"] == "CONSENT_REQUIRED"
    wait_until(lambda: not s.app.artifacts.store.exists(key), 30, "artifact removed")


def test_deleted_voice_answers_not_found_and_loses_its_model(syn):
    s = syn
    key = f"models/{s.free['id']}/{s.free_voice}/speaker.pth"
    ready(s, s.free, s.free_voice)
    assert s.app.artifacts.store.exists(key)
    assert s.rest.delete(f"/v1/voices/{s.free_voice}", headers=s.free["headers"]).status_code == 204
    wait_until(lambda: speak(s, s.free, s.free_voice).status_code == 404, 30, "deletion reaches synthesis")
    wait_until(lambda: not s.app.artifacts.store.exists(key), 30, "artifact removed")
