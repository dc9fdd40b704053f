"""Idempotent consumers: the same event twice is applied once; poison and failing events go to the
dead-letter topic; a consumer restarted without committing its offsets changes nothing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from sqlalchemy import func, select

from kit.events.consumer import EventConsumer
from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import USAGE, dead_letter_topic, full_name
from services.billing.events.handlers import HANDLERS
from services.billing.storage.tables import SCHEMA, inbox, usage_totals
from tests.integration.kafka_helpers import read_all
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration


def _produce(infra, *values: tuple[str, bytes, list]) -> None:
    producer = Producer(client_config(infra.kafka_bootstrap))
    for key, value, headers in values:
        producer.produce(full_name(infra.topic_prefix, USAGE.name), key=key.encode(), value=value, headers=headers)
    assert producer.flush(10) == 0


def _usage_event(tenant: str, characters: int):
    return pack(
        events_pb2.UsageRecorded(
            tenant_id=tenant,
            generation_ref=uuid.uuid4().hex,
            characters=characters,
            audio_seconds=characters / 15.0,
            compute_seconds=1.5,
        ),
        tenant_id=tenant,
    )


def _totals(engine, tenant: str):
    with engine.connect() as conn:
        return conn.execute(select(usage_totals).where(usage_totals.c.tenant_id == tenant)).first()


def _generations(engine, tenant: str) -> int:
    totals = _totals(engine, tenant)
    return totals.generations if totals else 0


def _consumer(engine, infra, name: str, handlers=HANDLERS, attempts: int = 3) -> EventConsumer:
    return EventConsumer(
        name,
        [USAGE],
        handlers,
        engine,
        SCHEMA,
        infra.kafka_bootstrap,
        infra.topic_prefix,
        max_attempts=attempts,
        backoff_seconds=0.01,
    )


def _run_until(consumer: EventConsumer, done, timeout: float = 60.0) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done():
            time.sleep(0.2)
        time.sleep(1.0)  # let any redelivery that would double-count arrive
    finally:
        stop.set()
        thread.join(15)
    assert done(), "consumer did not reach the expected state in time"


def test_same_event_twice_is_applied_once(engine, infra):
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    twice = _usage_event(tenant, 120)
    once = _usage_event(tenant, 30)
    _produce(infra, *((tenant, e.SerializeToString(), headers_for(e)) for e in (twice, twice, once)))

    name = f"billing-usage-{uuid.uuid4().hex[:6]}"
    _run_until(_consumer(engine, infra, name), lambda: _generations(engine, tenant) >= 2)
    totals = _totals(engine, tenant)
    assert (totals.characters, totals.generations) == (150, 2)
    with engine.connect() as conn:
        # Only this test's events: the topic is shared by the whole run, so the consumer meets others too.
        mine = [twice.event_id, once.event_id]
        marks = conn.execute(select(func.count()).where(inbox.c.consumer == name, inbox.c.event_id.in_(mine))).scalar()
    assert marks == 2

    # A consumer of the same group that re-reads everything (offsets lost) still changes nothing.
    again = _consumer(engine, infra, name)
    records = read_all(full_name(infra.topic_prefix, USAGE.name), infra.kafka_bootstrap)
    outcomes = [again.process(r) for r in records if r.key() == tenant.encode()]
    assert outcomes == ["duplicate", "duplicate", "duplicate"]
    assert _totals(engine, tenant).characters == 150


def test_failing_and_poison_events_go_to_the_dead_letter_topic(engine, infra):
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    bad = pack(events_pb2.UsageRecorded(tenant_id=tenant, generation_ref="x", characters=-5), tenant_id=tenant)
    _produce(infra, (tenant, bad.SerializeToString(), headers_for(bad)), (tenant, b"\x00not-protobuf", []))

    name = f"billing-dlq-{uuid.uuid4().hex[:6]}"
    consumer = _consumer(engine, infra, name)
    records = [
        r
        for r in read_all(full_name(infra.topic_prefix, USAGE.name), infra.kafka_bootstrap)
        if r.key() == tenant.encode()
    ]
    assert [consumer.process(r) for r in records] == ["dead_lettered", "dead_lettered"]
    assert _totals(engine, tenant) is None  # the failed effect rolled back with its inbox mark

    dlq = [
        r
        for r in read_all(full_name(infra.topic_prefix, dead_letter_topic(USAGE).name), infra.kafka_bootstrap)
        # This consumer's: tenancy's usage consumer, running in the same test session, reads the same
        # topic and dead-letters the undecodable record too.
        if r.key() == tenant.encode() and dict(r.headers()).get("dlq-consumer") == name.encode()
    ]
    assert len(dlq) == 2
    errors = [dict(r.headers())["dlq-error"].decode() for r in dlq]
    assert "must not be negative" in errors[0]
    assert errors[1].startswith("undecodable")
    assert dict(dlq[0].headers())["dlq-attempts"] == b"3"


def test_a_batch_commits_what_came_before_a_failure_and_goes_on_one_by_one_in_order(engine, infra):
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    good = [_usage_event(tenant, n) for n in (10, 20)]
    bad = pack(events_pb2.UsageRecorded(tenant_id=tenant, generation_ref="x", characters=-5), tenant_id=tenant)
    after = [_usage_event(tenant, n) for n in (40, 80)]
    batch = [*good, bad, after[0], good[0], after[1]]  # good[0] again: a redelivery inside the batch
    _produce(infra, *((tenant, e.SerializeToString(), headers_for(e)) for e in batch))
    records = [
        r
        for r in read_all(full_name(infra.topic_prefix, USAGE.name), infra.kafka_bootstrap)
        if r.key() == tenant.encode()
    ]

    consumer = _consumer(engine, infra, f"billing-batch-{uuid.uuid4().hex[:6]}")
    outcomes = consumer.process_batch(records)
    assert outcomes == ["applied", "applied", "dead_lettered", "applied", "duplicate", "applied"]
    totals = _totals(engine, tenant)
    assert (totals.characters, totals.generations) == (150, 4)
    # The whole batch again (a crash before the offset commit): nothing changes.
    assert set(consumer.process_batch(records)) == {"duplicate", "dead_lettered"}
    assert _totals(engine, tenant).characters == 150
