"""The gateway's job-status cache on a fixed clock, the events that evict it, and GET /v1/jobs/{id} over it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.credential_cache import CredentialCache
from gateway.job_status_cache import JobStatusCache
from gateway.revocation_listener import RevocationListener, apply_event
from kit.errors import NotFound
from kit.events.envelope import pack
from tests.fakes.gateway import FakeRpcError, FakeSynthesis, FakeTenancy, fake_backends
from timbre.v1 import events_pb2, synthesis_pb2

KEY_A, KEY_B = "tmb_a_secret", "tmb_b_secret"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _cache(clock: Clock, **overrides) -> JobStatusCache:
    cache = JobStatusCache(
        active_seconds=2.0,
        terminal_seconds=60.0,
        listener_stale_seconds=3.0,
        max_entries=overrides.get("max_entries", 100),
        monotonic=lambda: clock.now,
    )
    cache.listener_caught_up(clock.now)
    return cache


def _put(cache: JobStatusCache, job_id: str = "j-1", state: str = "running", tenant_id: str = "t-a") -> bool:
    return cache.put(tenant_id, job_id, state, f'{{"job_id":"{job_id}","state":"{state}"}}'.encode(), cache.now())


def test_a_running_job_is_served_for_its_short_ttl_and_a_finished_one_for_the_long_one():
    clock = Clock()
    cache = _cache(clock)
    assert _put(cache, "j-run", "running") and _put(cache, "j-done", "succeeded")
    clock.advance(1.9)
    cache.listener_caught_up(clock.now)
    assert cache.get("t-a", "j-run") is not None
    clock.advance(0.1)
    cache.listener_caught_up(clock.now)
    assert cache.get("t-a", "j-run") is None
    clock.advance(57.9)
    cache.listener_caught_up(clock.now)
    assert cache.get("t-a", "j-done") is not None
    clock.advance(0.1)
    cache.listener_caught_up(clock.now)
    assert cache.get("t-a", "j-done") is None


def test_an_entry_is_the_callers_tenants_only():
    clock = Clock()
    cache = _cache(clock)
    assert _put(cache, "j-1", tenant_id="t-a")
    assert cache.get("t-b", "j-1") is None
    assert cache.get("t-a", "j-1") is not None


@pytest.mark.parametrize(
    "event",
    [
        events_pb2.GenerationStarted(job_id="j-1", tenant_id="t-a", worker_id="w"),
        events_pb2.GenerationProgress(job_id="j-1", tenant_id="t-a", progress=0.3),
        events_pb2.GenerationCompleted(job_id="j-1", tenant_id="t-a", generation_id=7),
        events_pb2.GenerationFailed(job_id="j-1", tenant_id="t-a", reason="INTERNAL"),
    ],
)
def test_each_lifecycle_event_of_a_job_evicts_it_and_only_it(event):
    clock = Clock()
    cache = _cache(clock)
    _put(cache, "j-1")
    _put(cache, "j-2")
    record = pack(event)
    assert apply_event(None, record.SerializeToString(), record.type, cache) == record.type
    assert cache.get("t-a", "j-1") is None
    assert cache.get("t-a", "j-2") is not None


def test_events_without_a_job_or_of_other_kinds_evict_nothing():
    clock = Clock()
    cache = _cache(clock)
    _put(cache, "j-1")
    unary = pack(events_pb2.GenerationCompleted(job_id="", tenant_id="t-a", generation_id=8))
    assert apply_event(None, unary.SerializeToString(), unary.type, cache) is None
    revoked = pack(events_pb2.ApiKeyRevoked(tenant_id="t-a", key_id="k"))
    assert apply_event(None, revoked.SerializeToString(), revoked.type, cache) is None
    assert cache.get("t-a", "j-1") is not None


def test_a_read_overtaken_by_an_event_is_not_kept():
    clock = Clock()
    cache = _cache(clock)
    asked_at = cache.now()
    clock.advance(0.01)
    cache.evict("t-a", "j-1")  # the completion arrives while the read of the running state is in flight
    clock.advance(0.01)
    assert not cache.put("t-a", "j-1", "running", b"{}", asked_at)
    assert cache.stats.refused_stale == 1
    assert cache.put("t-a", "j-1", "succeeded", b"{}", cache.now())


def test_without_a_recent_confirmation_the_cache_is_bypassed_and_emptied():
    clock = Clock()
    cache = _cache(clock)
    _put(cache, "j-1", "succeeded")
    clock.advance(3.5)
    assert cache.get("t-a", "j-1") is None and len(cache) == 0
    assert cache.stats.bypassed == 1
    assert not _put(cache, "j-1", "succeeded")  # nor kept while unvouched for
    cache.listener_caught_up(clock.now)
    assert _put(cache, "j-1", "succeeded")


def test_a_read_begun_before_the_listener_restarted_is_not_kept():
    clock = Clock()
    cache = _cache(clock)
    asked_at = cache.now()
    cache.listener_lost()
    clock.advance(1.0)
    cache.listener_caught_up(clock.now)
    assert not cache.put("t-a", "j-1", "running", b"{}", asked_at)


def test_the_oldest_entries_go_first_past_the_size_bound():
    clock = Clock()
    cache = _cache(clock, max_entries=2)
    for job in ("j-1", "j-2", "j-3"):
        _put(cache, job)
    assert cache.get("t-a", "j-1") is None and cache.get("t-a", "j-3") is not None


def test_the_listener_reads_the_lifecycle_topic_and_vouches_for_the_job_cache():
    from tests.unit.test_gateway_credential_cache import FakeConsumer

    clock = Clock()
    jobs = JobStatusCache(monotonic=lambda: clock.now)
    consumer = FakeConsumer()
    listener = RevocationListener(None, "unused:1", "p.", jobs=jobs)
    assert listener.topics == ["p.timbre.generation.lifecycle.v1"]
    starts = listener._assign_at_end(consumer)  # type: ignore[arg-type]
    seen = listener._heartbeat(consumer, starts, None)  # type: ignore[arg-type]
    assert not jobs.healthy()
    consumer.ends["p.timbre.generation.lifecycle.v1"] = 9  # two events published since
    seen = listener._heartbeat(consumer, starts, seen)  # type: ignore[arg-type]
    assert jobs.healthy()
    clock.advance(3.5)
    listener._heartbeat(consumer, starts, seen)  # type: ignore[arg-type]
    assert not jobs.healthy()  # the two events are still unread


# --- GET /v1/jobs/{id} over the cache -----------------------------------------------------------


def _job(job_id: str, tenant_id: str, state: int) -> synthesis_pb2.Job:
    job = synthesis_pb2.Job(job_id=job_id, voice_id="v-1", state=state, progress=0.25, characters=42)
    job.create_time.FromSeconds(1_800_000_000)
    job.update_time.FromSeconds(1_800_000_005)
    return job


@dataclass
class JobsSynthesis(FakeSynthesis):
    """Jobs per tenant (read from the fake tokens, `token-<key id>`); other tenants' jobs are NOT_FOUND."""

    jobs: dict[str, synthesis_pb2.Job] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    gets: int = 0

    def _tenant(self, metadata) -> str:
        token = dict(metadata or [])["authorization"].removeprefix("Bearer ")
        return {"token-k-a": "t-a", "token-k-b": "t-b"}[token]

    def GetJob(self, request, metadata=None) -> synthesis_pb2.GetJobResponse:
        self.gets += 1
        if self.owners.get(request.job_id) != self._tenant(metadata):
            raise FakeRpcError(NotFound(f"job {request.job_id} not found"))
        return synthesis_pb2.GetJobResponse(job=self.jobs[request.job_id])

    def CancelJob(self, request, metadata=None) -> synthesis_pb2.CancelJobResponse:
        job = self.jobs[request.job_id]
        job.state = synthesis_pb2.JOB_STATE_CANCELLED
        return synthesis_pb2.CancelJobResponse(job=job)


def _client(cache: JobStatusCache | None) -> tuple[TestClient, JobsSynthesis]:
    synthesis = JobsSynthesis()
    synthesis.jobs["j-1"] = _job("j-1", "t-a", synthesis_pb2.JOB_STATE_RUNNING)
    synthesis.owners["j-1"] = "t-a"
    tenancy = FakeTenancy(api_keys={KEY_A: ("t-a", "k-a"), KEY_B: ("t-b", "k-b")})
    app = create_app(
        GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000),
        backends=fake_backends(tenancy=tenancy, synthesis=synthesis),
        job_statuses=cache,
    )
    return TestClient(app, raise_server_exceptions=False), synthesis


def _poll(client: TestClient, key: str = KEY_A, job_id: str = "j-1"):
    return client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})


def test_a_cached_answer_is_byte_for_byte_what_synthesis_gave_and_costs_no_call():
    uncached, _ = _client(None)
    expected = _poll(uncached)
    clock = Clock()
    client, synthesis = _client(_cache(clock))
    answers = [_poll(client) for _ in range(4)]
    assert synthesis.gets == 1
    for answer in answers:
        assert answer.status_code == 200
        assert answer.content == expected.content
        assert answer.headers["content-type"] == expected.headers["content-type"]
    assert answers[0].json()["state"] == "running" and answers[0].json()["created_at"] is not None


def test_the_answer_is_what_the_response_model_gives():
    # The cached body is serialized by hand: it must be what FastAPI's response model would have sent.
    from fastapi.encoders import jsonable_encoder

    from gateway.routes.speech import JobOut

    client, synthesis = _client(None)
    expected = jsonable_encoder(JobOut.of(synthesis.jobs["j-1"]))
    assert _poll(client).json() == expected


def test_another_tenant_gets_404_and_404s_are_not_cached():
    clock = Clock()
    cache = _cache(clock)
    client, synthesis = _client(cache)
    assert _poll(client).status_code == 200  # tenant a's entry is now cached
    assert [_poll(client, KEY_B).status_code for _ in range(2)] == [404, 404]
    assert synthesis.gets == 3  # each of b's polls asked synthesis
    assert [_poll(client, job_id="j-none").status_code for _ in range(2)] == [404, 404]
    assert synthesis.gets == 5


def test_an_event_makes_the_next_poll_report_the_new_state():
    clock = Clock()
    cache = _cache(clock)
    client, synthesis = _client(cache)
    assert _poll(client).json()["state"] == "running"
    synthesis.jobs["j-1"].state = synthesis_pb2.JOB_STATE_SUCCEEDED
    assert _poll(client).json()["state"] == "running"  # cached, no event yet
    record = pack(events_pb2.GenerationCompleted(job_id="j-1", tenant_id="t-a", generation_id=7))
    apply_event(None, record.SerializeToString(), record.type, cache)
    assert _poll(client).json()["state"] == "succeeded"


def test_the_gateways_own_cancel_evicts():
    clock = Clock()
    cache = _cache(clock)
    client, _ = _client(cache)
    assert _poll(client).json()["state"] == "running"
    cancelled = client.delete("/v1/jobs/j-1", headers={"Authorization": f"Bearer {KEY_A}"})
    assert cancelled.status_code == 200
    assert _poll(client).json()["state"] == "cancelled"


def test_a_stale_listener_sends_every_poll_to_synthesis():
    clock = Clock()
    cache = _cache(clock)
    client, synthesis = _client(cache)
    _poll(client)
    clock.advance(3.5)  # no confirmation since
    _poll(client)
    _poll(client)
    assert synthesis.gets == 3


# --- the fast path: both caches hit, answered before routing ------------------------------------


def _fast_client(clock: Clock, rate: float = 1000, burst: int = 1000):
    from tests.unit.test_gateway_credential_cache import WALL, ExpiringTenancy

    credentials = CredentialCache(monotonic=lambda: clock.now, wall=lambda: WALL)
    credentials.listener_caught_up(clock.now)
    jobs = _cache(clock)
    synthesis = JobsSynthesis()
    synthesis.jobs["j-1"] = _job("j-1", "t-a", synthesis_pb2.JOB_STATE_RUNNING)
    synthesis.owners["j-1"] = "t-a"
    tenancy = ExpiringTenancy(api_keys={KEY_A: ("t-a", "k-a"), KEY_B: ("t-b", "k-b")})
    app = create_app(
        GatewaySettings(rate_limit_per_second=rate, rate_limit_burst=burst),
        backends=fake_backends(tenancy=tenancy, synthesis=synthesis),
        credentials=credentials,
        job_statuses=jobs,
    )
    return TestClient(app, raise_server_exceptions=False), synthesis, tenancy, credentials, jobs


def test_a_poll_with_both_caches_hit_is_answered_before_routing_with_the_routes_bytes():
    uncached, _ = _client(None)
    expected = _poll(uncached)
    clock = Clock()
    client, synthesis, tenancy, credentials, jobs = _fast_client(clock)
    first = _poll(client)  # the route: exchanges the key, reads the job, fills both caches
    answers = [_poll(client) for _ in range(3)]
    assert synthesis.gets == 1 and len(tenancy.issued) == 1
    for answer in [first, *answers]:
        assert answer.status_code == 200 and answer.content == expected.content
        assert answer.headers["content-type"] == expected.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == str(len(expected.content))
        assert answer.headers["x-request-id"]
    assert jobs.stats.hits == 3 and credentials.stats.hits == 3


def test_the_fast_path_keeps_the_rate_limit_and_the_tenant_separation():
    clock = Clock()
    client, synthesis, _, _, _ = _fast_client(clock, rate=0.001, burst=3)
    assert [_poll(client).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert synthesis.gets == 1  # the two hits were fast, the fourth poll limited
    other = _poll(client, KEY_B)
    assert other.status_code == 404 and synthesis.gets == 2  # b's poll went through the route to synthesis


def test_the_fast_path_is_named_like_the_route_in_metrics():
    from prometheus_client import REGISTRY

    clock = Clock()
    client, _, _, _, _ = _fast_client(clock)
    labels = {"route": "/v1/jobs/{job_id}", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("timbre_http_requests_total", labels) or 0.0
    _poll(client)
    _poll(client)  # fast
    assert REGISTRY.get_sample_value("timbre_http_requests_total", labels) == before + 2


def test_the_fast_path_answers_a_double_hit_itself_and_hands_everything_else_on():
    import asyncio

    from prometheus_client import CollectorRegistry, Counter

    from gateway.credential_cache import Credential, credential_digest
    from gateway.job_status_fast_path import JobStatusFastPath
    from gateway.ratelimit import RateLimiter

    clock = Clock()
    credentials = CredentialCache(monotonic=lambda: clock.now, wall=lambda: 0.0)
    credentials.listener_caught_up(clock.now)
    credentials.put(credential_digest(KEY_A), Credential("jwt", "t-a", "k-a", 1, 1000.0), credentials.now())
    jobs = _cache(clock)
    _put(jobs, "j-1", "succeeded")
    handed_on: list[str] = []

    async def route(scope, receive, send) -> None:
        handed_on.append(scope["path"])

    counter = Counter("fast_path_test", "", ["outcome"], registry=CollectorRegistry())
    fast = JobStatusFastPath(
        route, credentials, jobs, RateLimiter(1000, 1000), object(), counter.labels("a"), counter.labels("b")
    )

    def call(path: str, key: str = KEY_A) -> list[dict]:
        sent: list[dict] = []

        async def send(message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "headers": [(b"authorization", f"Bearer {key}".encode())],
        }
        asyncio.run(fast(scope, None, send))  # type: ignore[arg-type]
        return sent

    answer = call("/v1/jobs/j-1")
    assert answer[0]["status"] == 200 and answer[1]["body"] == b'{"job_id":"j-1","state":"succeeded"}'
    assert handed_on == []
    assert call("/v1/jobs/j-2") == [] and call("/v1/jobs/j-1", KEY_B) == [] and call("/v1/jobs/j-1/audio") == []
    assert handed_on == ["/v1/jobs/j-2", "/v1/jobs/j-1", "/v1/jobs/j-1/audio"]
