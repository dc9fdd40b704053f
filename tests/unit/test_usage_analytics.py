"""Usage analytics on fakes: latency sketches (bytes round trip, merge, accuracy against numpy), events
rolled up per tenant × day × voice × language × model, reports grouped and totalled, date checks, top
tenants, storage per tenant, and who may ask for what. No database, no Kafka."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from kit.errors import InvalidArgument, NotFound, PermissionDenied
from kit.events.envelope import Event, pack
from kit.grpc.auth import Principal, reset_principal, set_principal
from kit.storage.local import LocalObjectStore
from services.billing.domain.analytics import LatencySketch, RollupKey, storage_by_tenant, succeeded
from services.billing.events.analytics_handlers import handlers
from services.billing.grpc_api.analytics import UsageAnalyticsServicer
from services.billing.service_layer.analytics import Analytics
from tests.fakes.analytics import FakeAnalyticsUnitOfWork, FakeRollups
from tests.fakes.billing import FakeInbox
from tests.fakes.clock import FakeClock
from tests.fakes.storage import FakeObjectStore
from timbre.v1 import billing_pb2, events_pb2

TENANT = "3f1c2d4e-0000-4000-8000-000000000001"
OTHER = "3f1c2d4e-0000-4000-8000-000000000002"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _event(payload, occurred_at: datetime, tenant: str = TENANT, event_id: str | None = None) -> Event:
    envelope = pack(payload, tenant_id=tenant, event_id=event_id)
    envelope.occurred_at.FromDatetime(occurred_at)
    return Event(envelope, payload)


def _usage(occurred_at: datetime, tenant: str = TENANT, **fields) -> Event:
    defaults = {"voice_id": "v-1", "language": "th", "model": "vits-th"}
    return _event(
        events_pb2.UsageRecorded(tenant_id=tenant, generation_ref="g", **{**defaults, **fields}), occurred_at, tenant
    )


def _failure(occurred_at: datetime, tenant: str = TENANT, **fields) -> Event:
    defaults = {"voice_id": "v-1", "language": "th", "model": "vits-th", "characters": 40}
    return _event(
        events_pb2.GenerationFailed(tenant_id=tenant, job_id="j", reason="ENGINE", **{**defaults, **fields}),
        occurred_at,
        tenant,
    )


@pytest.fixture
def rollups() -> FakeRollups:
    return FakeRollups()


@pytest.fixture
def inbox(rollups) -> FakeInbox:
    return FakeInbox(handlers(lambda conn: rollups))


@pytest.fixture
def store() -> FakeObjectStore:
    return FakeObjectStore()


@pytest.fixture
def analytics(rollups, store) -> Analytics:
    return Analytics(FakeAnalyticsUnitOfWork(rollups), store, FakeClock(NOW))


# --- sketches ----------------------------------------------------------------------------------


def _samples(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(mean=-1.0, sigma=0.6, size=n)


def _sketch(values) -> LatencySketch:
    sketch = LatencySketch()
    for value in values:
        sketch.add(float(value))
    return sketch


def test_sketch_bytes_round_trip_and_merge_match_numpy_within_two_percent():
    first, second = _samples(1, 4000), _samples(2, 6000)
    merged = LatencySketch.from_bytes(_sketch(first).to_bytes())
    merged.merge(LatencySketch.from_bytes(_sketch(second).to_bytes()))
    everything = np.concatenate([first, second])
    assert merged.count == len(everything)
    for q in (0.5, 0.95, 0.99):
        expected = float(np.percentile(everything, q * 100))
        assert merged.quantile(q) == pytest.approx(expected, rel=0.02)
    # Merging through bytes answers exactly as one sketch over all the values would.
    whole = _sketch(everything).summary()
    assert tuple(vars(merged.summary()).values()) == pytest.approx(tuple(vars(whole).values()), rel=1e-9)


def test_sketch_bytes_are_sparse_and_empty_sketches_are_empty():
    one = _sketch([0.25])
    assert 0 < len(one.to_bytes()) < 64
    assert LatencySketch().to_bytes() == b""
    empty = LatencySketch.from_bytes(b"")
    assert (empty.count, empty.quantile(0.5)) == (0, 0.0)
    assert LatencySketch.from_bytes(one.to_bytes()).quantile(0.5) == pytest.approx(0.25, rel=0.01)


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        succeeded(RollupKey(TENANT, date(2026, 11, 1)), -1, 0.0, 0.0)


# --- events into roll-ups ------------------------------------------------------------------------


def test_usage_and_failures_roll_up_per_day_voice_language_and_model(inbox, rollups, analytics):
    day = datetime(2026, 11, 20, 9, tzinfo=UTC)
    events = [
        _usage(day, characters=100, audio_seconds=7.0, compute_seconds=1.0, first_chunk_seconds=0.3, total_seconds=1.2),
        _usage(day, characters=50, audio_seconds=3.5, compute_seconds=0.5, first_chunk_seconds=0.2, total_seconds=0.8),
        _usage(day, voice_id="v-2", language="en", model="vits-en", characters=10, audio_seconds=1.0),
        _failure(day),
    ]
    assert [inbox.deliver(e) for e in events] == ["applied"] * 4
    assert len(rollups.rows) == 2  # v-1/th/vits-th (3 events) and v-2/en/vits-en

    by_voice = analytics.usage(TENANT, "2026-11-20", "2026-11-20", "voice")
    rows = {r.key: r for r in by_voice.rows}
    assert (rows["v-1"].requests, rows["v-1"].failures, rows["v-1"].characters) == (3, 1, 150)
    assert rows["v-1"].audio_seconds == pytest.approx(10.5)
    assert rows["v-1"].total.p50 == pytest.approx(0.8, rel=0.01)  # DDSketch's lower quantile of {0.8, 1.2}
    assert rows["v-2"].first_chunk.p50 == 0.0  # no latency measured: no sample
    totals = by_voice.totals
    assert (totals.requests, totals.failures, totals.characters) == (4, 1, 160)
    assert totals.compute_seconds == pytest.approx(1.5)


def test_a_redelivered_event_is_applied_once(inbox, analytics):
    event = _usage(datetime(2026, 11, 20, tzinfo=UTC), characters=70)
    assert [inbox.deliver(event), inbox.deliver(event)] == ["applied", "duplicate"]
    assert analytics.usage(TENANT, "2026-11-20", "2026-11-20").totals.characters == 70


def test_a_late_event_lands_in_the_day_it_happened(inbox, analytics):
    inbox.deliver(_usage(datetime(2026, 11, 30, 10, tzinfo=UTC), characters=5))
    inbox.deliver(_usage(datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC), characters=200))  # consumed today
    by_day = {r.key: r.characters for r in analytics.usage(TENANT, "2026-11-27", "2026-11-30").rows}
    assert by_day == {"2026-11-27": 0, "2026-11-28": 200, "2026-11-29": 0, "2026-11-30": 5}


def test_events_without_the_analytics_fields_still_count(inbox, analytics):
    old = _event(events_pb2.UsageRecorded(tenant_id=TENANT, generation_ref="g", characters=33), NOW)
    inbox.deliver(old)
    report = analytics.usage(TENANT, group_by="voice")
    assert [(r.key, r.requests, r.characters) for r in report.rows] == [("", 1, 33)]
    assert report.totals.total.p50 == 0.0


def test_reports_group_by_language_and_model_most_requests_first(inbox, analytics):
    day = datetime(2026, 11, 29, tzinfo=UTC)
    for language, model, count in (("th", "vits-th", 1), ("en", "vits-en", 3)):
        for _ in range(count):
            inbox.deliver(_usage(day, language=language, model=model, characters=10))
    assert [(r.key, r.requests) for r in analytics.usage(TENANT, group_by="language").rows] == [("en", 3), ("th", 1)]
    assert [r.key for r in analytics.usage(TENANT, group_by="model").rows] == ["vits-en", "vits-th"]


def test_a_tenant_report_holds_only_that_tenant(inbox, analytics):
    day = datetime(2026, 11, 29, tzinfo=UTC)
    inbox.deliver(_usage(day, characters=10))
    inbox.deliver(_usage(day, tenant=OTHER, characters=99))
    assert analytics.usage(TENANT).totals.characters == 10
    assert {r.key: r.characters for r in analytics.usage(None, group_by="tenant").rows} == {TENANT: 10, OTHER: 99}


# --- dates, groupings, top tenants -------------------------------------------------------------------


def test_date_range_defaults_to_the_last_thirty_days(analytics):
    assert analytics.date_range("", "") == (date(2026, 10, 31), date(2026, 11, 30))
    assert analytics.date_range("", "2026-02-10") == (date(2026, 1, 11), date(2026, 2, 10))


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-13-01", "", "from_date"),
        ("20261101", "", "from_date"),
        ("2026-11-01", "yesterday", "to_date"),
        ("2026-11-02", "2026-11-01", "from_date"),
        ("2024-01-01", "2025-01-01", "to_date"),  # 367 days (2024 is a leap year)
    ],
)
def test_bad_dates_are_invalid_arguments(analytics, first, last, field):
    with pytest.raises(InvalidArgument) as caught:
        analytics.usage(TENANT, first, last)
    assert caught.value.metadata["field"] == field


def test_a_leap_year_fits_and_group_by_is_checked(analytics):
    assert len(analytics.usage(TENANT, "2024-01-01", "2024-12-31").rows) == 366
    with pytest.raises(InvalidArgument):
        analytics.usage(TENANT, group_by="week")


def test_top_tenants_by_characters_or_requests(inbox, analytics):
    day = datetime(2026, 11, 29, tzinfo=UTC)
    for tenant, characters, requests in ((TENANT, 500, 1), (OTHER, 20, 4), ("t-3", 100, 2)):
        for _ in range(requests):
            inbox.deliver(_usage(day, tenant=tenant, characters=characters // requests))
    assert [r.key for r in analytics.top_tenants(order_by="characters", limit=2)] == [TENANT, "t-3"]
    assert [r.key for r in analytics.top_tenants(order_by="requests")] == [OTHER, "t-3", TENANT]
    with pytest.raises(InvalidArgument):
        analytics.top_tenants(order_by="bytes")
    with pytest.raises(InvalidArgument):
        analytics.top_tenants(limit=1000)


# --- storage ------------------------------------------------------------------------------------


def test_storage_is_summed_per_tenant_from_object_keys(store, analytics):
    store.put(f"samples/{TENANT}/v-1/a.wav", b"x" * 100)
    store.put(f"models/{TENANT}/v-1/speaker.pth", b"x" * 50)
    store.put(f"jobs/{OTHER}/j-1/audio.wav", b"x" * 400)
    store.put(f"consents/{OTHER}/v-9/c-1", b"x" * 10)
    store.put("piper/th_TH-model.onnx", b"x" * 9999)  # shared, nobody's
    assert [(t.tenant_id, t.bytes, t.objects) for t in analytics.tenant_storage()] == [
        (OTHER, 410, 2),
        (TENANT, 150, 2),
    ]


def test_the_local_store_lists_sizes(tmp_path):
    local = LocalObjectStore(tmp_path)
    local.put(f"samples/{TENANT}/v/a.wav", b"12345")
    local.put(f"jobs/{TENANT}/j/audio.wav", b"123")
    assert local.list_sizes("") == [(f"jobs/{TENANT}/j/audio.wav", 3), (f"samples/{TENANT}/v/a.wav", 5)]
    assert [(t.tenant_id, t.bytes, t.objects) for t in storage_by_tenant(local.list_sizes(""))] == [(TENANT, 8, 2)]


# --- who may ask -----------------------------------------------------------------------------------


@pytest.fixture
def as_principal():
    tokens = []

    def become(role: str, tenant_id: str | None = None) -> None:
        tokens.append(set_principal(Principal(subject="s", role=role, tenant_id=tenant_id)))

    yield become
    for token in reversed(tokens):
        reset_principal(token)


def test_a_tenant_sees_its_own_usage_only(inbox, analytics, as_principal):
    inbox.deliver(_usage(datetime(2026, 11, 29, tzinfo=UTC), characters=10))
    servicer = UsageAnalyticsServicer(analytics)
    as_principal("tenant", TENANT)
    reply = servicer.QueryUsage(billing_pb2.QueryUsageRequest(group_by="voice"), None)
    assert (reply.tenant_id, reply.totals.characters, [r.key for r in reply.rows]) == (TENANT, 10, ["v-1"])
    with pytest.raises(NotFound):
        servicer.QueryUsage(billing_pb2.QueryUsageRequest(tenant_id=OTHER), None)
    for request in (billing_pb2.QueryUsageRequest(all_tenants=True), billing_pb2.QueryUsageRequest(group_by="tenant")):
        with pytest.raises(PermissionDenied):
            servicer.QueryUsage(request, None)
    for call in (servicer.ListTopTenants, servicer.ListTenantStorage):
        with pytest.raises(PermissionDenied):
            call(billing_pb2.ListTopTenantsRequest(), None)


def test_an_operator_sees_every_tenant(inbox, analytics, store, as_principal):
    day = datetime(2026, 11, 29, tzinfo=UTC)
    inbox.deliver(_usage(day, characters=10))
    inbox.deliver(_usage(day, tenant=OTHER, characters=30))
    store.put(f"samples/{OTHER}/v/a.wav", b"x" * 7)
    servicer = UsageAnalyticsServicer(analytics)
    as_principal("operator")
    every = servicer.QueryUsage(billing_pb2.QueryUsageRequest(all_tenants=True, group_by="tenant"), None)
    assert ({r.key: r.characters for r in every.rows}, every.tenant_id) == ({TENANT: 10, OTHER: 30}, "")
    one = servicer.QueryUsage(billing_pb2.QueryUsageRequest(tenant_id=OTHER), None)
    assert one.totals.characters == 30
    assert [r.key for r in servicer.ListTopTenants(billing_pb2.ListTopTenantsRequest(limit=1), None).rows] == [OTHER]
    storage = servicer.ListTenantStorage(billing_pb2.ListTenantStorageRequest(), None)
    assert (storage.total_bytes, [(t.tenant_id, t.bytes) for t in storage.tenants]) == (7, [(OTHER, 7)])


# --- months and one voice (the voice owner's link reads these) -----------------------------------------


def test_grouped_by_month_every_month_of_the_range_has_a_row_oldest_first(inbox, analytics):
    inbox.deliver(_usage(datetime(2026, 9, 30, 23, tzinfo=UTC), characters=10, audio_seconds=1.0))
    inbox.deliver(_usage(datetime(2026, 11, 1, tzinfo=UTC), characters=20, audio_seconds=2.0))
    inbox.deliver(_usage(datetime(2026, 11, 29, tzinfo=UTC), characters=30, audio_seconds=3.0))
    report = analytics.usage(TENANT, "2026-08-15", "2026-11-30", "month")
    assert [(r.key, r.requests, r.characters) for r in report.rows] == [
        ("2026-08", 0, 0),
        ("2026-09", 1, 10),
        ("2026-10", 0, 0),
        ("2026-11", 2, 50),
    ]
    assert report.totals.characters == 60
    year = analytics.usage(TENANT, "2025-12-01", "2026-11-30", "month")
    assert [r.key for r in year.rows][0::11] == ["2025-12", "2026-11"] and len(year.rows) == 12


def test_a_voice_filter_keeps_that_voices_usage_only(inbox, analytics):
    day = datetime(2026, 11, 29, tzinfo=UTC)
    inbox.deliver(_usage(day, characters=10))
    inbox.deliver(_usage(day, voice_id="v-2", characters=99))
    inbox.deliver(_usage(day, tenant=OTHER, characters=1000))  # the same voice id under another tenant
    only = analytics.usage(TENANT, "2026-11-01", "2026-11-30", "month", voice_id="v-1")
    assert (only.voice_id, only.totals.characters, [r.characters for r in only.rows]) == ("v-1", 10, [10])
    assert analytics.usage(TENANT, group_by="voice", voice_id="v-2").totals.characters == 99
    assert analytics.usage(TENANT, voice_id="nobody").totals.requests == 0
    with pytest.raises(InvalidArgument):
        analytics.usage(TENANT, voice_id="v" * 65)


def test_a_service_names_the_tenant_and_voice_it_asks_for(inbox, analytics, as_principal):
    inbox.deliver(_usage(datetime(2026, 11, 29, tzinfo=UTC), characters=10))
    inbox.deliver(_usage(datetime(2026, 11, 29, tzinfo=UTC), voice_id="v-2", characters=5))
    servicer = UsageAnalyticsServicer(analytics)
    as_principal("service")
    request = billing_pb2.QueryUsageRequest(
        tenant_id=TENANT, voice_id="v-1", from_date="2025-12-01", to_date="2026-11-30", group_by="month"
    )
    reply = servicer.QueryUsage(request, None)
    assert (reply.tenant_id, reply.voice_id, reply.group_by, len(reply.rows)) == (TENANT, "v-1", "month", 12)
    assert (reply.rows[-1].key, reply.rows[-1].characters, reply.totals.characters) == ("2026-11", 10, 10)
    with pytest.raises(InvalidArgument):  # a service must name the tenant
        servicer.QueryUsage(billing_pb2.QueryUsageRequest(voice_id="v-1"), None)
