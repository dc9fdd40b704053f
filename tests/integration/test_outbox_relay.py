"""The transactional outbox delivers every event exactly once, even when its relay is killed
(SIGKILL) in the middle of a batch and again between the Kafka commit and the PostgreSQL update."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select, text

from kit.db.tables import outbox_table
from kit.events.envelope import unpack
from kit.events.outbox import Outbox
from kit.events.relay import OutboxRelay
from kit.events.topics import TopicSpec, checkpoint_topic, ensure_topics, full_name
from tests.integration.kafka_helpers import read_all
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EVENTS = 600
BATCH = 100


def _relay(schema: str, service: str, failpoints: str = "") -> int:
    env = {**os.environ, "TIMBRE_FAILPOINTS": failpoints}
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.relay_runner", schema, service, str(BATCH)],
        cwd=REPO,
        env=env,
        timeout=180,
    ).returncode


def _sent(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(table.c.sent_at.is_not(None))).scalar()


def test_outbox_delivers_exactly_once_across_relay_crashes(engine, infra):
    run = uuid.uuid4().hex[:8]
    schema, service = f"relaytest_{run}", f"relaytest{run}"
    topic = TopicSpec(f"relaytest.{run}.v1", 3)
    ensure_topics(infra.kafka_bootstrap, [topic, checkpoint_topic(service)], infra.topic_prefix)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    table = outbox_table(MetaData(), schema)
    table.create(engine)
    outbox = Outbox(schema, service)
    written = []
    for start in range(0, EVENTS, 50):  # many small transactions, as services write them
        with engine.begin() as conn:
            for i in range(start, start + 50):
                payload = events_pb2.UsageRecorded(tenant_id=f"tenant-{i % 7}", generation_ref=f"g{i}", characters=i)
                written.append(outbox.add(conn, topic, f"tenant-{i % 7}", payload, tenant_id=f"tenant-{i % 7}"))

    # Run 1: killed while producing the 3rd batch (two batches committed and marked).
    assert _relay(schema, service, "relay.mid_batch=250") == -9
    assert _sent(engine, table) == 2 * BATCH
    # Run 2: the aborted batch goes again; killed after the 4th batch's Kafka commit, before marking it.
    assert _relay(schema, service, "relay.after_commit=2") == -9
    assert _sent(engine, table) == 3 * BATCH
    relay = OutboxRelay(engine, schema, service, infra.kafka_bootstrap, infra.topic_prefix)
    assert len(relay.last_checkpoint()) == BATCH  # Kafka holds the 4th batch's checkpoint
    # Run 3: recovery marks the 4th batch from the checkpoint instead of sending it again.
    assert _relay(schema, service) == 0
    assert _sent(engine, table) == EVENTS

    records = read_all(full_name(infra.topic_prefix, topic.name), infra.kafka_bootstrap, expect=EVENTS)
    delivered = collections.Counter(unpack(r.value()).event_id for r in records)
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    print(
        f"\noutbox exactly-once: {EVENTS} events, 2 relay crashes, {len(delivered)} delivered, "
        f"{duplicates} duplicates, {len(set(written) - set(delivered))} lost"
    )
    assert duplicates == 0
    assert set(delivered) == set(written)
    # Per key, Kafka keeps the outbox order (one partition per key).
    by_key = collections.defaultdict(list)
    for record in records:
        event = unpack(record.value())
        by_key[record.key()].append(int(event.payload.generation_ref[1:]))
    assert all(seq == sorted(seq) for seq in by_key.values())


def test_rows_sent_longer_ago_than_the_retention_are_purged_and_nothing_else(engine, infra):
    run = uuid.uuid4().hex[:8]
    schema = f"relaypurge_{run}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    table = outbox_table(MetaData(), schema)
    table.create(engine)
    ages = {"old-sent": 10, "recent-sent": 1, "old-unsent": None}  # days since sent (None: never sent)
    with engine.begin() as conn:
        for key, days in ages.items():
            sent = None if days is None else func.now() - text(f"interval '{days} days'")
            conn.execute(
                table.insert().values(event_id=str(uuid.uuid4()), topic="t", key=key, payload=b"x", sent_at=sent)
            )
    relay = OutboxRelay(engine, schema, f"relaypurge{run}", infra.kafka_bootstrap, retention_days=7)
    relay.PURGE_BATCH = 1  # several batches, as a large backlog would take
    assert relay.purge_sent() == 1
    with engine.connect() as conn:
        assert sorted(conn.execute(select(table.c.key)).scalars()) == ["old-unsent", "recent-sent"]
    assert relay.purge_sent() == 0
    assert OutboxRelay(engine, schema, f"relaypurge{run}", infra.kafka_bootstrap, retention_days=0).purge_sent() == 0
