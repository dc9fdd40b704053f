"""Recorded usage settles its reservation (real PostgreSQL + Kafka, tenancy's usage consumer running in the
test's tenancy server): a generation whose synchronous CommitQuota never happened — its edge was killed
after recording it — is still counted, exactly once, however often its UsageRecorded arrives and whether
the reservation was live, lapsed or swept meanwhile; a later CommitQuota changes nothing."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from sqlalchemy import func, select

from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import USAGE, full_name
from services.tenancy.events.handlers import USAGE_CONSUMER_NAME
from services.tenancy.storage.tables import inbox, reservations
from tests.integration.conftest import bearer
from timbre.v1 import events_pb2, tenancy_pb2

pytestmark = pytest.mark.integration


def _usage(tenant_id: str, reservation_id: str, characters: int):
    return pack(
        events_pb2.UsageRecorded(
            tenant_id=tenant_id,
            generation_ref=str(uuid.uuid4().int >> 80),
            characters=characters,
            kind="unary",
            reservation_id=reservation_id,
        ),
        tenant_id=tenant_id,
        source="synthesis",
    )


def _produce(infra, *envelopes) -> None:
    producer = Producer(client_config(infra.kafka_bootstrap))
    topic = full_name(infra.topic_prefix, USAGE.name)
    for envelope in envelopes:
        producer.produce(
            topic, key=envelope.tenant_id.encode(), value=envelope.SerializeToString(), headers=headers_for(envelope)
        )
    assert producer.flush(10) == 0


def _marks(engine, *event_ids: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(inbox.c.consumer == USAGE_CONSUMER_NAME, inbox.c.event_id.in_(event_ids))
        ).scalar_one()


def _status(engine, reservation_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(reservations.c.status).where(reservations.c.id == reservation_id)).scalar_one()


def _wait(done, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    raise AssertionError(f"tenancy's usage consumer did not {what} in time")


def test_usage_whose_commit_never_came_is_counted_once(engine, infra, tenancy_stub, service_token, new_tenant):
    tenant_id, _, _ = new_tenant("pro")
    md = bearer(service_token)

    def used() -> int:
        return tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=md).characters_used

    def reserve(characters: int, ttl_seconds: int = 300) -> str:
        return tenancy_stub.ReserveQuota(
            tenancy_pb2.ReserveQuotaRequest(
                tenant_id=tenant_id, characters=characters, job_slots=1, ttl_seconds=ttl_seconds
            ),
            metadata=md,
        ).reservation_id

    # A live reservation: the edge recorded the generation and died before CommitQuota.
    live = reserve(120)
    first = _usage(tenant_id, live, 120)
    _produce(infra, first, first)  # delivered twice: applied once
    _wait(lambda: _marks(engine, first.event_id) == 1 and used() == 120, "settle the live reservation")
    assert _status(engine, live) == "committed"
    # The same usage under another event id (a replay), and the synchronous commit arriving late: no change.
    replay = _usage(tenant_id, live, 120)
    _produce(infra, replay)
    _wait(lambda: _marks(engine, replay.event_id) == 1, "apply the replay")
    tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=live, characters=-1), metadata=md)
    assert used() == 120

    # A reservation that lapsed, and was swept, before its usage arrived still counts it.
    lapsed = reserve(30, ttl_seconds=1)
    _wait(lambda: _status(engine, lapsed) == "expired", "see the sweeper expire the reservation")  # sweeps every 1 s
    late = _usage(tenant_id, lapsed, 30)
    _produce(infra, late)
    _wait(lambda: _marks(engine, late.event_id) == 1, "settle the swept reservation")
    assert used() == 150 and _status(engine, lapsed) == "committed"

    # Usage naming no reservation tenancy knows is applied as a no-op, not retried into the dead-letter topic.
    unknown = _usage(tenant_id, str(uuid.uuid4()), 999)
    _produce(infra, unknown)
    _wait(lambda: _marks(engine, unknown.event_id) == 1, "skip the unknown reservation")
    assert used() == 150


def test_a_commit_of_a_lapsed_reservation_counts_it_and_the_usage_event_then_changes_nothing(
    engine, infra, tenancy_stub, service_token, new_tenant
):
    tenant_id, _, _ = new_tenant("pro")
    md = bearer(service_token)
    held = tenancy_stub.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, characters=70, job_slots=1, ttl_seconds=1), metadata=md
    ).reservation_id
    time.sleep(1.5)  # the work outlived the lease: the commit still succeeds
    tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=held, characters=-1), metadata=md)
    event = _usage(tenant_id, held, 70)
    _produce(infra, event)
    _wait(lambda: _marks(engine, event.event_id) == 1, "apply the usage")
    usage = tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=md)
    assert (usage.characters_used, usage.jobs_running) == (70, 0)
