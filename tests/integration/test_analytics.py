"""Usage analytics on the real PostgreSQL and Kafka: UsageRecorded and GenerationFailed events through the
analytics consumer ("billing-analytics" group of its own) into per-day roll-ups. Per-day totals equal the
events' sums; an event replayed from an old offset (the same envelope produced again, and the group's
offsets reset to the beginning) does not double a day; a late event lands in its own day; latency
percentiles from the stored sketches are within 2% of numpy's over the samples; two transactions creating
the same roll-up row at once both count."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import func, select

from kit.clock import SystemClock
from kit.events.consumer import EventConsumer
from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import GENERATION_LIFECYCLE, USAGE, full_name
from kit.metrics import EVENTS_CONSUMED
from services.billing.domain.analytics import RollupKey, succeeded
from services.billing.events.analytics_handlers import HANDLERS
from services.billing.service_layer.analytics import Analytics
from services.billing.storage.analytics import SqlAnalyticsUnitOfWork, SqlRollups, usage_rollups
from services.billing.storage.tables import SCHEMA, inbox
from tests.fakes.analytics import FakeAnalyticsUnitOfWork
from tests.fakes.storage import FakeObjectStore
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration

# One consumer group for the module, as in production: each test's run continues from the last offsets.
CONSUMER = f"billing-analytics-{uuid.uuid4().hex[:6]}"
NOW = datetime.now(UTC)
TODAY = NOW.date()


def _tenant() -> str:
    return str(uuid.uuid4())


def _envelope(payload, tenant: str, occurred_at: datetime):
    envelope = pack(payload, tenant_id=tenant)
    envelope.occurred_at.FromDatetime(occurred_at)
    return envelope


def usage(tenant: str, occurred_at: datetime, characters: int, total: float = 0.0, **fields):
    payload = events_pb2.UsageRecorded(
        tenant_id=tenant,
        generation_ref=uuid.uuid4().hex,
        characters=characters,
        audio_seconds=characters / 15.0,
        compute_seconds=characters / 100.0,
        total_seconds=total,
        first_chunk_seconds=total / 4,
        **{"voice_id": "v-1", "language": "th", "model": "vits-th", **fields},
    )
    return _envelope(payload, tenant, occurred_at)


def failure(tenant: str, occurred_at: datetime, **fields):
    payload = events_pb2.GenerationFailed(
        job_id=str(uuid.uuid4()),
        tenant_id=tenant,
        reason="ENGINE_FAILED",
        characters=80,
        **{"voice_id": "v-1", "language": "th", "model": "vits-th", **fields},
    )
    return _envelope(payload, tenant, occurred_at)


# Event ids this module produced: the topics are shared by the whole test run, so the consumer also
# meets other modules' events; counting only these keeps the assertions about this module's own.
PRODUCED: set[str] = set()


def produce(infra, envelopes) -> None:
    """Usage to the usage topic keyed by tenant; failures to the lifecycle topic keyed by job, as in production."""
    producer = Producer(client_config(infra.kafka_bootstrap))
    for envelope in envelopes:
        PRODUCED.add(envelope.event_id)
        if envelope.type == events_pb2.GenerationFailed.DESCRIPTOR.full_name:
            payload = events_pb2.GenerationFailed()
            envelope.payload.Unpack(payload)
            topic, key = GENERATION_LIFECYCLE, payload.job_id
        else:
            topic, key = USAGE, envelope.tenant_id
        producer.produce(
            full_name(infra.topic_prefix, topic.name),
            key=key.encode(),
            value=envelope.SerializeToString(),
            headers=headers_for(envelope),
        )
    assert producer.flush(30) == 0


def consumer(engine, infra) -> EventConsumer:
    return EventConsumer(
        CONSUMER,
        [USAGE, GENERATION_LIFECYCLE],
        HANDLERS,
        engine,
        SCHEMA,
        infra.kafka_bootstrap,
        infra.topic_prefix,
        max_attempts=3,
        backoff_seconds=0.01,
    )


def marks(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(inbox.c.consumer == CONSUMER, inbox.c.event_id.in_(PRODUCED))
        ).scalar_one()


def duplicates() -> float:
    """Events this module's consumer found in its inbox already (redeliveries and replays it skipped)."""
    types = (events_pb2.UsageRecorded, events_pb2.GenerationFailed)
    return sum(EVENTS_CONSUMED.labels(CONSUMER, t.DESCRIPTOR.full_name, "duplicate")._value.get() for t in types)


def run_until(engine, infra, expected_marks: int, settle: float = 2.0, timeout: float = 120.0, done=None) -> None:
    """Run the consumer until the inbox holds `expected_marks` events (and `done()`, if given, is true),
    then a little longer (so that any redelivery that would double-count gets its chance), then stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=consumer(engine, infra).run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (marks(engine) < expected_marks or (done and not done())):
            time.sleep(0.2)
        time.sleep(settle)
    finally:
        stop.set()
        thread.join(20)
    assert marks(engine) == expected_marks


def analytics(engine) -> Analytics:
    return Analytics(SqlAnalyticsUnitOfWork(engine), FakeObjectStore(), SystemClock())


def per_day(engine, tenant: str, first, last) -> dict[str, tuple[int, int, int, float, float]]:
    report = analytics(engine).usage(tenant, first.isoformat(), last.isoformat(), "day")
    return {
        r.key: (r.requests, r.failures, r.characters, round(r.audio_seconds, 6), round(r.compute_seconds, 6))
        for r in report.rows
        if r.requests
    }


def expected_per_day(events) -> dict[str, tuple[int, int, int, float, float]]:
    sums: dict[str, list] = {}
    for envelope in events:
        day = envelope.occurred_at.ToDatetime(tzinfo=UTC).date().isoformat()
        entry = sums.setdefault(day, [0, 0, 0, 0.0, 0.0])
        entry[0] += 1
        if envelope.type == events_pb2.GenerationFailed.DESCRIPTOR.full_name:
            entry[1] += 1
            continue
        payload = events_pb2.UsageRecorded()
        envelope.payload.Unpack(payload)
        entry[2] += payload.characters
        entry[3] += payload.audio_seconds
        entry[4] += payload.compute_seconds
    return {day: (r, f, c, round(a, 6), round(s, 6)) for day, (r, f, c, a, s) in sums.items()}


def reset_offsets_to_beginning(infra) -> None:
    """What an operator does to replay a topic: the group's committed offsets back to 0 on every partition."""
    admin = AdminClient(client_config(infra.kafka_bootstrap))
    group = full_name(infra.topic_prefix, f"timbre.{CONSUMER}")
    partitions = []
    for spec in (USAGE, GENERATION_LIFECYCLE):
        topic = full_name(infra.topic_prefix, spec.name)
        metadata = admin.list_topics(topic, timeout=10)
        partitions += [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
    futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, partitions)])
    for future in futures.values():
        future.result(30)


def test_per_day_totals_equal_the_events_and_a_replay_changes_nothing(engine, infra):
    tenant, other = _tenant(), _tenant()
    days_ago = [NOW - timedelta(days=n, minutes=7 * n) for n in (0, 1, 3)]
    events = [
        usage(tenant, days_ago[0], 120, 1.1),
        usage(tenant, days_ago[0], 45, 0.6, voice_id="v-2", language="en", model="vits-en"),
        failure(tenant, days_ago[0]),
        usage(tenant, days_ago[1], 300, 2.5),
        failure(tenant, days_ago[1], voice_id="v-2"),
        usage(tenant, days_ago[2], 10, 0.2),
        usage(other, days_ago[0], 999, 3.0),
    ]
    before = marks(engine)
    produce(infra, events)
    run_until(engine, infra, before + len(events))

    first, last = TODAY - timedelta(days=5), TODAY
    mine = [e for e in events if e.tenant_id == tenant]
    assert per_day(engine, tenant, first, last) == expected_per_day(mine)
    assert per_day(engine, other, first, last) == expected_per_day([events[-1]])
    by_voice = {r.key: r.requests for r in analytics(engine).usage(tenant, first.isoformat(), group_by="voice").rows}
    assert by_voice == {"v-1": 4, "v-2": 2}

    # Replay: the same envelopes produced again (same event ids), and the group's offsets reset to the start.
    skipped = duplicates()
    produce(infra, events)
    reset_offsets_to_beginning(infra)
    # Each event comes back twice (re-produced, and re-read from offset 0 with its first copy): all skipped.
    replayed = lambda: duplicates() - skipped >= 2 * len(events)  # noqa: E731
    run_until(engine, infra, before + len(events), done=replayed)
    assert replayed()
    assert per_day(engine, tenant, first, last) == expected_per_day(mine)
    assert per_day(engine, other, first, last) == expected_per_day([events[-1]])


def test_a_late_event_lands_in_its_own_day(engine, infra):
    tenant = _tenant()
    two_days_ago = NOW - timedelta(days=2)
    before = marks(engine)
    produce(infra, [usage(tenant, NOW, 100, 0.5)])
    run_until(engine, infra, before + 1, settle=0.5)
    produce(infra, [usage(tenant, two_days_ago, 40, 0.3)])  # consumed today, happened two days ago
    run_until(engine, infra, before + 2, settle=0.5)
    days = per_day(engine, tenant, TODAY - timedelta(days=3), TODAY)
    assert {day: row[2] for day, row in days.items()} == {
        two_days_ago.date().isoformat(): 40,
        TODAY.isoformat(): 100,
    }


def test_latency_percentiles_are_within_two_percent_of_numpy(engine, infra):
    tenant = _tenant()
    totals = np.random.default_rng(15).lognormal(mean=0.0, sigma=0.5, size=1500)
    events = [usage(tenant, NOW, 20, float(t)) for t in totals]
    before = marks(engine)
    produce(infra, events)
    run_until(engine, infra, before + len(events), settle=0.5)
    row = analytics(engine).usage(tenant, TODAY.isoformat(), TODAY.isoformat()).totals
    assert row.requests == len(totals)
    for measured, q in ((row.total.p50, 50), (row.total.p95, 95), (row.total.p99, 99)):
        assert measured == pytest.approx(float(np.percentile(totals, q)), rel=0.02)
    assert row.first_chunk.p95 == pytest.approx(float(np.percentile(totals / 4, 95)), rel=0.02)


def test_two_transactions_creating_the_same_row_both_count(engine, infra):
    """Usage (keyed by tenant) and failures (keyed by job) can reach one roll-up row from two consumers at
    once: the loser of the insert race waits for the winner's commit and merges into its row."""
    key = RollupKey(_tenant(), TODAY, "v-1", "th", "vits-th")
    entered = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            entered.wait(10)
            with engine.begin() as conn:
                SqlRollups(conn).add(succeeded(key, 5, 1.0, 0.1, 0.2, 0.9))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with engine.begin() as conn:
        SqlRollups(conn).add(succeeded(key, 7, 2.0, 0.2, 0.1, 0.4))
        entered.set()
        time.sleep(0.5)  # the second transaction is now blocked on our uncommitted row
    thread.join(20)
    assert not errors
    with engine.connect() as conn:
        (found,) = SqlRollups(conn).between(TODAY, TODAY, [key.tenant_id])
        rows = conn.execute(select(func.count()).where(usage_rollups.c.tenant_id == key.tenant_id)).scalar_one()
    assert rows == 1
    assert (found.counters.requests, found.counters.characters, found.counters.total.count) == (2, 12, 2)


def test_storage_per_tenant_from_the_s3_listing(infra):
    from devstack import infra as stack_infra
    from devstack.stack import S3_PORT, state_paths
    from kit.storage.s3 import S3ObjectStore

    store = S3ObjectStore(
        stack_infra.s3_up(state_paths(), S3_PORT), "timbre", "timbre-local", f"analytics-{uuid.uuid4().hex[:8]}"
    )
    tenant, other = _tenant(), _tenant()
    store.put(f"samples/{tenant}/v-1/a.wav", b"x" * 1000)
    store.put(f"jobs/{tenant}/j-1/audio.wav", b"x" * 24)
    store.put(f"models/{other}/v-2/speaker.pth", b"x" * 300)
    store.put("piper/shared.onnx", b"x" * 5000)
    assert store.list_sizes(f"samples/{tenant}/") == [(f"samples/{tenant}/v-1/a.wav", 1000)]
    found = Analytics(FakeAnalyticsUnitOfWork(), store, SystemClock()).tenant_storage()
    assert [(s.tenant_id, s.bytes, s.objects) for s in found] == [(tenant, 1024, 2), (other, 300, 1)]


def test_one_voices_months_from_the_stored_rollups(engine, infra):
    """The voice owner's portal asks for one voice grouped by month: the SQL filter keeps that voice's rows
    of that tenant only, and every month of the range has a row."""
    tenant, other = _tenant(), _tenant()
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    with engine.begin() as conn:
        rollups = SqlRollups(conn)
        rollups.add(succeeded(RollupKey(tenant, TODAY, "v-1", "en", "m"), 30, 2.0, 0.1))
        rollups.add(succeeded(RollupKey(tenant, last_month, "v-1", "en", "m"), 20, 1.0, 0.1))
        rollups.add(succeeded(RollupKey(tenant, TODAY, "v-2", "en", "m"), 500, 9.0, 0.1))
        rollups.add(succeeded(RollupKey(other, TODAY, "v-1", "en", "m"), 900, 9.0, 0.1))
    analytics = Analytics(SqlAnalyticsUnitOfWork(engine), FakeObjectStore(), SystemClock())
    first = (TODAY.replace(day=1) - timedelta(days=70)).replace(day=1)
    report = analytics.usage(tenant, first.isoformat(), TODAY.isoformat(), "month", voice_id="v-1")
    assert [r.key for r in report.rows][-2:] == [last_month.strftime("%Y-%m"), TODAY.strftime("%Y-%m")]
    assert len(report.rows) == 4 and [r.characters for r in report.rows] == [0, 0, 20, 30]
    assert (report.voice_id, report.totals.requests) == ("v-1", 2)
