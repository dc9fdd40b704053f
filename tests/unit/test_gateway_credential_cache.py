"""The gateway's credential cache on a fixed clock, its event handling, and the auth dependency over it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.credential_cache import Credential, CredentialCache, credential_digest
from gateway.revocation_listener import apply_event
from kit.events.envelope import pack
from tests.fakes.gateway import FakeSynthesis, FakeTenancy, fake_backends
from timbre.v1 import common_pb2, events_pb2, tenancy_pb2

WALL = 1_800_000_000.0
KEY = "tmb_abc_secret"


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = WALL

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def _cache(clocks: Clocks, **overrides) -> CredentialCache:
    cache = CredentialCache(
        ttl_seconds=overrides.get("ttl", 15.0),
        expiry_margin_seconds=30.0,
        listener_stale_seconds=3.0,
        hold_seconds=15.0,
        max_entries=overrides.get("max_entries", 100),
        monotonic=lambda: clocks.mono,
        wall=lambda: clocks.wall,
    )
    cache.listener_caught_up(clocks.mono)
    return cache


def _credential(key_id: str = "k-1", tenant_id: str = "t-1", lives: float = 300.0) -> Credential:
    return Credential(token=f"jwt-{key_id}", tenant_id=tenant_id, key_id=key_id, tier=1, expires_at=WALL + lives)


def _put(cache: CredentialCache, digest: str = "d-1", **kwargs) -> bool:
    return cache.put(digest, _credential(**kwargs), cache.now())


def test_a_kept_credential_is_served_until_its_ttl_passes():
    clocks = Clocks()
    cache = _cache(clocks)
    assert _put(cache)
    clocks.advance(14.0)
    cache.listener_caught_up(clocks.mono)
    assert cache.get("d-1") == _credential()
    clocks.advance(1.0)
    cache.listener_caught_up(clocks.mono)
    assert cache.get("d-1") is None
    assert len(cache) == 0


def test_a_token_close_to_its_expiry_is_not_kept_nor_served():
    clocks = Clocks()
    cache = _cache(clocks, ttl=600.0)
    assert not _put(cache, lives=30.0)  # within the 30 s margin already
    assert _put(cache, lives=40.0)
    clocks.advance(10.0)
    cache.listener_caught_up(clocks.mono)
    assert cache.get("d-1") is None


def test_a_revoked_key_is_evicted_and_the_tenants_other_keys_stay():
    clocks = Clocks()
    cache = _cache(clocks)
    _put(cache, "d-1", key_id="k-1")
    _put(cache, "d-2", key_id="k-2")
    assert cache.revoke_key("k-1") == 1
    assert cache.get("d-1") is None
    assert cache.get("d-2") is not None


def test_an_exchange_overtaken_by_a_revocation_is_not_kept():
    # The exchange began before the event arrived; tenancy may have answered before the revocation.
    clocks = Clocks()
    cache = _cache(clocks)
    asked_at = cache.now()
    clocks.advance(0.01)
    cache.revoke_key("k-1")
    clocks.advance(0.01)
    assert not cache.put("d-1", _credential(), asked_at)
    assert cache.get("d-1") is None
    assert cache.stats.refused_stale == 1


def test_an_exchange_begun_after_a_tier_change_is_kept():
    clocks = Clocks()
    cache = _cache(clocks)
    _put(cache)
    cache.forget_tenant("t-1")
    assert cache.get("d-1") is None
    clocks.advance(0.01)
    assert _put(cache)  # tenancy already answers with the new tier


def test_after_a_billing_verdict_the_tenants_keys_ask_tenancy_for_the_hold():
    clocks = Clocks()
    cache = _cache(clocks)
    _put(cache, "d-1")
    _put(cache, "d-other", key_id="k-9", tenant_id="t-9")
    cache.forget_tenant("t-1", hold=True)
    clocks.advance(1.0)
    cache.listener_caught_up(clocks.mono)
    assert not _put(cache, "d-1")  # tenancy may not have applied the suspension yet
    assert cache.get("d-other") is not None
    clocks.advance(14.5)
    cache.listener_caught_up(clocks.mono)
    assert _put(cache, "d-1")


def test_without_a_recent_confirmation_from_the_listener_the_cache_is_bypassed_and_emptied():
    clocks = Clocks()
    cache = _cache(clocks)
    _put(cache)
    clocks.advance(3.5)  # the listener last vouched 3.5 s ago: the broker may be down
    assert not cache.healthy()
    assert cache.get("d-1") is None
    assert not _put(cache)
    assert cache.stats.bypassed == 1
    cache.listener_caught_up(clocks.mono)
    assert cache.get("d-1") is None  # what was kept before the gap is gone


def test_a_cache_never_confirmed_serves_nothing():
    clocks = Clocks()
    cache = CredentialCache(monotonic=lambda: clocks.mono, wall=lambda: clocks.wall)
    assert not cache.put("d-1", _credential(), cache.now())
    assert cache.get("d-1") is None


def test_the_oldest_entries_go_first_past_the_size_bound():
    clocks = Clocks()
    cache = _cache(clocks, max_entries=2)
    for i in range(3):
        _put(cache, f"d-{i}", key_id=f"k-{i}")
    assert len(cache) == 2 and cache.get("d-0") is None and cache.get("d-2") is not None
    assert cache.revoke_key("k-0") == 0  # its index entries went with it


def test_events_evict_what_they_make_wrong_and_others_are_ignored():
    clocks = Clocks()
    cache = _cache(clocks)
    _put(cache, "d-1", key_id="k-1", tenant_id="t-1")
    _put(cache, "d-2", key_id="k-2", tenant_id="t-2")
    _put(cache, "d-3", key_id="k-3", tenant_id="t-3")
    created = pack(events_pb2.TenantCreated(tenant_id="t-1")).SerializeToString()
    assert apply_event(cache, created) is None and len(cache) == 3
    revoked = pack(events_pb2.ApiKeyRevoked(tenant_id="t-1", key_id="k-1")).SerializeToString()
    assert apply_event(cache, revoked, "timbre.v1.ApiKeyRevoked") == "timbre.v1.ApiKeyRevoked"
    tier = pack(events_pb2.TenantTierChanged(tenant_id="t-2", tier=common_pb2.TIER_PRO)).SerializeToString()
    apply_event(cache, tier)
    assert apply_event(cache, b"not an envelope") is None
    assert cache.get("d-1") is None and cache.get("d-2") is None and cache.get("d-3") is not None
    suspended = pack(events_pb2.TenantBillingStateChanged(tenant_id="t-3")).SerializeToString()
    apply_event(cache, suspended)
    assert cache.get("d-3") is None


def test_the_digest_is_not_the_secret():
    assert KEY not in credential_digest(KEY) and len(credential_digest(KEY)) == 64


# --- the auth dependency over the cache --------------------------------------------------------


class ExpiringTenancy(FakeTenancy):
    """FakeTenancy whose tokens carry an expiry, as tenancy's do."""

    def IssueToken(self, request, metadata=None) -> tenancy_pb2.IssueTokenResponse:
        reply = super().IssueToken(request, metadata)
        reply.expire_time.CopyFrom(Timestamp(seconds=int(WALL) + 300))
        return reply


def _client(cache: CredentialCache | None) -> tuple[TestClient, ExpiringTenancy]:
    tenancy = ExpiringTenancy(api_keys={KEY: ("t-1", "k-1")})
    backends = fake_backends(tenancy=tenancy, synthesis=FakeSynthesis())
    settings = GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000)
    return TestClient(
        create_app(settings, backends=backends, credentials=cache), raise_server_exceptions=False
    ), tenancy


def _ask(client: TestClient, key: str = KEY) -> int:
    return client.get("/v1/api-keys", headers={"Authorization": f"Bearer {key}"}).status_code


def test_repeated_requests_with_one_key_cost_tenancy_one_exchange():
    clocks = Clocks()
    cache = _cache(clocks)
    client, tenancy = _client(cache)
    assert [_ask(client) for _ in range(5)] == [200] * 5
    assert len(tenancy.issued) == 1
    assert cache.stats.hits == 4


def test_without_the_cache_every_request_asks_tenancy():
    client, tenancy = _client(None)
    assert [_ask(client) for _ in range(3)] == [200] * 3
    assert len(tenancy.issued) == 3


def test_a_wrong_key_is_not_cached_and_a_revoked_one_is_refused_on_the_next_request():
    clocks = Clocks()
    cache = _cache(clocks)
    client, tenancy = _client(cache)
    assert _ask(client, "tmb_abc_wrong") == 401
    assert _ask(client, "tmb_abc_wrong") == 401
    assert len(tenancy.issued) == 2 and len(cache) == 0
    assert _ask(client) == 200
    del tenancy.api_keys[KEY]  # tenancy revokes it, and its event arrives
    apply_event(cache, pack(events_pb2.ApiKeyRevoked(tenant_id="t-1", key_id="k-1")).SerializeToString())
    assert _ask(client) == 401


def test_the_cache_holds_no_secret():
    clocks = Clocks()
    cache = _cache(clocks)
    client, _ = _client(cache)
    _ask(client)
    assert KEY not in repr(cache._entries) and credential_digest(KEY) in cache._entries


# --- the listener's vouching ---------------------------------------------------------------------


class FakeConsumer:
    """One partition per topic; `ends` is what the broker says, `consumed` what poll has handed over."""

    def __init__(self, topics_exist: bool = True) -> None:
        self.ends: dict[str, int] = {}
        self.consumed: dict[str, int] = {}
        self.assigned: list = []
        self.topics_exist = topics_exist

    def list_topics(self, topic, timeout=None):
        from types import SimpleNamespace

        self.ends.setdefault(topic, 7)
        return SimpleNamespace(topics={topic: SimpleNamespace(partitions={0: None} if self.topics_exist else {})})

    def get_watermark_offsets(self, tp, timeout=None, cached=False):
        return 0, self.ends[tp.topic]

    def assign(self, partitions) -> None:
        self.assigned = partitions

    def position(self, partitions):
        from confluent_kafka import OFFSET_INVALID, TopicPartition

        return [TopicPartition(p.topic, p.partition, self.consumed.get(p.topic, OFFSET_INVALID)) for p in partitions]


def test_the_listener_vouches_only_once_it_has_read_what_was_published_before_its_last_heartbeat():
    from gateway.revocation_listener import RevocationListener

    clocks = Clocks()
    cache = CredentialCache(monotonic=lambda: clocks.mono, wall=lambda: clocks.wall)
    consumer = FakeConsumer()
    listener = RevocationListener(cache, "unused:1", "p.")
    starts = listener._assign_at_end(consumer)  # type: ignore[arg-type]
    assert [tp.offset for tp in consumer.assigned] == [7, 7]  # from the end: the cache starts empty

    seen = listener._heartbeat(consumer, starts, None)  # type: ignore[arg-type]
    assert not cache.healthy()  # nothing to compare with yet
    topic = "p.timbre.tenant.v1"
    consumer.ends[topic] = 9  # two records published since
    seen = listener._heartbeat(consumer, starts, seen)  # type: ignore[arg-type]
    assert cache.healthy()  # everything published before the first heartbeat was read
    clocks.advance(3.5)
    seen = listener._heartbeat(consumer, starts, seen)  # type: ignore[arg-type]
    assert not cache.healthy()  # the two records are still unread: no word for 3.5 s
    consumer.consumed[topic] = 9
    listener._heartbeat(consumer, starts, seen)  # type: ignore[arg-type]
    assert cache.healthy()


def test_the_listener_refuses_to_vouch_for_topics_that_do_not_exist():
    import pytest
    from confluent_kafka import KafkaException

    from gateway.revocation_listener import RevocationListener

    listener = RevocationListener(CredentialCache(), "unused:1", "p.")
    with pytest.raises(KafkaException):
        listener._assign_at_end(FakeConsumer(topics_exist=False))  # type: ignore[arg-type]


def test_an_exchange_begun_before_the_listener_restarted_is_not_kept():
    # A revocation published while the listener was down is never read: whatever began before it
    # started reading again cannot be trusted.
    clocks = Clocks()
    cache = _cache(clocks)
    asked_at = cache.now()
    clocks.advance(0.5)
    cache.listener_lost()
    clocks.advance(1.0)
    cache.listener_caught_up(clocks.mono)
    assert not cache.put("d-1", _credential(), asked_at)
    assert cache.put("d-1", _credential(), cache.now())
