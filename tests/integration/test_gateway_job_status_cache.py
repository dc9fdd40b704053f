"""The gateway's job-status cache against the real synthesis service and Kafka: a job polled through the
gateway is served from the cache, and the poll after its completion event reports the new state.

The job's row is written and finished straight in synthesis's database, and its GenerationCompleted is
published as the worker's relay would: the test needs the service's read and the topic, not a voice and
an engine. The TTL is far above what is asserted (120 s), so a new state within the bound can only have
come from the event."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.job_status_cache import JobStatusCache
from gateway.revocation_listener import RevocationListener
from kit.events.envelope import pack
from kit.events.kafka import client_config
from kit.events.topics import GENERATION_LIFECYCLE, full_name
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration

DATABASE = "timbre_test_job_status_cache"
TTL = 120.0
# The listener's fetch waits ≤ 50 ms and it vouches every 0.2 s; the rest is the shared machine's load.
EVENT_BOUND_SECONDS = 5.0


@pytest.fixture(scope="module")
def synthesis(infra, tenancy):
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, migrate_all
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.main import SynthesisApp

    ensure_database(PG_PORT, DATABASE)
    database_url = make_url(infra.database_url).set(database=DATABASE).render_as_string(hide_password=False)
    migrate_all(database_url)
    settings = SynthesisSettings(
        grpc_port=0, metrics_port=0, tenancy_addr=tenancy, database_url=database_url, run_workers=False
    )
    app = SynthesisApp(settings)
    process = app.process().start()
    yield f"127.0.0.1:{process.port}", database_url
    process.stop()


def _running_job(database_url: str, tenant_id: str) -> str:
    job_id = str(uuid.uuid4())
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO synthesis.jobs (job_id, tenant_id, voice_id, user_id, tier, state, progress,"
                    " characters, language, format, speed, pitch, sample_rate, text_key, reservation_id,"
                    " audio_seconds) VALUES (:job, :tenant, :voice, 'test', 2, 'running', 0.5, 600, 'en',"
                    " 'mp3', 1, 0, 0, 'test/none', :reservation, 0)"
                ),
                {"job": job_id, "tenant": tenant_id, "voice": str(uuid.uuid4()), "reservation": str(uuid.uuid4())},
            )
    finally:
        engine.dispose()
    return job_id


def _finish(database_url: str, job_id: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE synthesis.jobs SET state = 'succeeded', progress = 1, audio_seconds = 42.5"
                    " WHERE job_id = :j"
                ),
                {"j": job_id},
            )
    finally:
        engine.dispose()


def _publish_completed(bootstrap: str, prefix: str, tenant_id: str, job_id: str) -> None:
    envelope = pack(events_pb2.GenerationCompleted(job_id=job_id, tenant_id=tenant_id, generation_id=7))
    producer = Producer(client_config(bootstrap))
    producer.produce(
        full_name(prefix, GENERATION_LIFECYCLE.name),
        key=job_id.encode(),
        value=envelope.SerializeToString(),
        headers=[("event-type", envelope.type.encode())],
    )
    assert producer.flush(10) == 0


def test_the_poll_after_the_completion_event_reports_the_new_state(infra, tenancy, synthesis, new_tenant):
    synthesis_addr, database_url = synthesis
    tenant_id, secret, _ = new_tenant("pro")
    other_tenant, other_secret, _ = new_tenant("pro")
    job_id = _running_job(database_url, tenant_id)
    jobs = JobStatusCache(active_seconds=TTL, terminal_seconds=TTL, listener_stale_seconds=3.0)
    listener = RevocationListener(None, infra.kafka_bootstrap, infra.topic_prefix, heartbeat_seconds=0.2, jobs=jobs)
    settings = GatewaySettings(
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        tenancy_addr=tenancy,
        synthesis_addr=synthesis_addr,
        billing_addr="127.0.0.1:1",
        watermark_addr="127.0.0.1:1",
        embedding_addr="127.0.0.1:1",
    )
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings, listener=listener, job_statuses=jobs)) as client:
        deadline = time.monotonic() + 30
        while not jobs.healthy():
            assert time.monotonic() < deadline, "the listener never caught up with the lifecycle topic"
            time.sleep(0.05)

        def state() -> str:
            answer = client.get(f"/v1/jobs/{job_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()["state"]

        assert [state(), state()] == ["running", "running"]
        assert jobs.stats.hits >= 1
        # Another tenant's poll still asks synthesis, which does not know the job for it.
        other = client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {other_secret}"})
        assert other.status_code == 404 and other_tenant != tenant_id

        _finish(database_url, job_id)
        assert state() == "running"  # the row changed, no event yet: served from the cache
        published = time.perf_counter()
        _publish_completed(infra.kafka_bootstrap, infra.topic_prefix, tenant_id, job_id)
        while (seen := state()) == "running":
            assert time.perf_counter() - published < EVENT_BOUND_SECONDS, "the completion never evicted the job"
            time.sleep(0.01)
        delay = time.perf_counter() - published
        print(f"\nthe gateway reported the completion {delay * 1000:.0f} ms after the event was published")
        assert seen == "succeeded" and jobs.stats.evicted >= 1
        assert state() == "succeeded"
