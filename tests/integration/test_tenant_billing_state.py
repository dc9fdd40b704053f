"""Billing's verdicts reach tenancy through Kafka (real PostgreSQL + Kafka, tenancy's own consumer running in
the test's tenancy server): a suspended tenant's API key gets no token, and gets one again once billing
restores it; the same event twice is applied once; a stale verdict replayed late changes nothing. And a tier
change stages exactly one TenantTierChanged in tenancy's outbox."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from confluent_kafka import Producer
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select

from kit.events.consumer import EventConsumer
from kit.events.envelope import headers_for, pack, unpack
from kit.events.kafka import client_config
from kit.events.outbox import Outbox
from kit.events.topics import BILLING_EVENTS, TENANT_EVENTS, full_name
from kit.grpc.status import error_info
from services.tenancy.events.handlers import CONSUMER_NAME, handlers
from services.tenancy.storage.tables import SCHEMA, inbox, outbox
from services.tenancy.storage.unit_of_work import SqlTransaction
from tests.integration.conftest import bearer
from tests.integration.kafka_helpers import read_all
from timbre.v1 import common_pb2, events_pb2, tenancy_pb2

pytestmark = pytest.mark.integration

SUSPENDED = common_pb2.BILLING_STATE_SUSPENDED
ACTIVE = common_pb2.BILLING_STATE_ACTIVE


def _verdict(tenant_id: str, state: int, reason: str = "", decided_at: datetime | None = None):
    envelope = pack(
        events_pb2.TenantBillingStateChanged(
            tenant_id=tenant_id, state=state, reason=reason, stripe_event_id=f"evt_{uuid.uuid4().hex[:12]}"
        ),
        tenant_id=tenant_id,
        source="billing",
    )
    if decided_at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(decided_at)
        envelope.occurred_at.CopyFrom(stamp)
    return envelope


def _produce(infra, *envelopes) -> None:
    producer = Producer(client_config(infra.kafka_bootstrap))
    topic = full_name(infra.topic_prefix, BILLING_EVENTS.name)
    for envelope in envelopes:
        producer.produce(
            topic, key=envelope.tenant_id.encode(), value=envelope.SerializeToString(), headers=headers_for(envelope)
        )
    assert producer.flush(10) == 0


def _marks(engine, *event_ids: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(inbox.c.consumer == CONSUMER_NAME, inbox.c.event_id.in_(event_ids))
        ).scalar_one()


def _wait(done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    raise AssertionError("tenancy's billing consumer did not apply the events in time")


def _tenant(tenancy_stub, operator_token, tenant_id: str) -> tenancy_pb2.Tenant:
    return tenancy_stub.GetTenant(
        tenancy_pb2.GetTenantRequest(tenant_id=tenant_id), metadata=bearer(operator_token)
    ).tenant


def _refusal(tenancy_stub, api_key: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    return caught.value


def test_suspension_refuses_the_keys_and_payment_restores_them(
    engine, infra, tenancy_stub, operator_token, new_tenant, issue
):
    tenant_id, api_key, _ = new_tenant("pro")
    bystander_id, bystander_key, _ = new_tenant("pro")
    assert issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))

    suspend = _verdict(tenant_id, SUSPENDED, "invoice in_1 unpaid after 7 days")
    _produce(infra, suspend, suspend)  # delivered twice: applied once
    _wait(lambda: _marks(engine, suspend.event_id) == 1)

    refused = _refusal(tenancy_stub, api_key)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(refused)
    assert info is not None and info.reason == "TENANT_SUSPENDED"
    assert refused.details() == (
        "the tenant is suspended: invoice in_1 unpaid after 7 days; pay the open invoice to restore access"
    )
    shown = _tenant(tenancy_stub, operator_token, tenant_id)
    assert (shown.billing_state, shown.billing_reason) == (SUSPENDED, "invoice in_1 unpaid after 7 days")
    assert issue(tenancy_pb2.IssueTokenRequest(api_key=bystander_key))  # other tenants are untouched
    assert _tenant(tenancy_stub, operator_token, bystander_id).billing_state == ACTIVE

    # A consumer of the same group re-reading the topic (offsets lost) finds every event already applied.
    again = EventConsumer(
        CONSUMER_NAME,
        [BILLING_EVENTS],
        handlers(lambda conn: SqlTransaction(conn, Outbox(SCHEMA, "tenancy"))),
        engine,
        SCHEMA,
        infra.kafka_bootstrap,
    )
    records = [
        r
        for r in read_all(full_name(infra.topic_prefix, BILLING_EVENTS.name), infra.kafka_bootstrap)
        if r.key() == tenant_id.encode()
    ]
    assert [again.process(r) for r in records] == ["duplicate", "duplicate"]

    paid = _verdict(tenant_id, ACTIVE, "invoice in_1 paid")
    _produce(infra, paid)
    _wait(lambda: _marks(engine, paid.event_id) == 1)
    assert issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))  # the very next request after payment
    shown = _tenant(tenancy_stub, operator_token, tenant_id)
    assert (shown.billing_state, shown.billing_reason) == (ACTIVE, "")


def test_a_stale_verdict_replayed_late_changes_nothing(engine, infra, tenancy_stub, operator_token, new_tenant, issue):
    tenant_id, api_key, _ = new_tenant("free")
    now = datetime.now(UTC)
    restored = _verdict(tenant_id, ACTIVE, decided_at=now)
    stale = _verdict(tenant_id, SUSPENDED, "unpaid", decided_at=now - timedelta(minutes=5))
    _produce(infra, restored, stale)  # the suspension it ended arrives after it (a replay)
    _wait(lambda: _marks(engine, restored.event_id, stale.event_id) == 2)
    assert _tenant(tenancy_stub, operator_token, tenant_id).billing_state == ACTIVE
    assert issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))


def test_a_tier_change_stages_one_tenant_tier_changed(engine, tenancy_stub, operator_token, new_tenant, issue):
    tenant_id, api_key, _ = new_tenant("free")
    for _ in range(2):  # the second change to the same tier is a no-op
        reply = tenancy_stub.ChangeTier(
            tenancy_pb2.ChangeTierRequest(tenant_id=tenant_id, tier=common_pb2.TIER_ENTERPRISE),
            metadata=bearer(operator_token),
        )
        assert reply.tenant.tier == common_pb2.TIER_ENTERPRISE
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.payload).where(outbox.c.topic == TENANT_EVENTS.name, outbox.c.key == tenant_id)
        ).all()
    events = [unpack(row.payload).payload for row in rows]
    changes = [e for e in events if isinstance(e, events_pb2.TenantTierChanged)]
    assert [(e.tenant_id, e.tier, e.previous_tier) for e in changes] == [
        (tenant_id, common_pb2.TIER_ENTERPRISE, common_pb2.TIER_FREE)
    ]
    # The limits follow at once.
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    limits = tenancy_stub.GetTenant(tenancy_pb2.GetTenantRequest(), metadata=bearer(token)).limits
    assert limits.tier == common_pb2.TIER_ENTERPRISE and limits.characters_per_month == -1

    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.ChangeTier(
            tenancy_pb2.ChangeTierRequest(tenant_id=tenant_id, tier=common_pb2.TIER_FREE), metadata=bearer(token)
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED  # operators only
    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.ChangeTier(
            tenancy_pb2.ChangeTierRequest(tenant_id=str(uuid.uuid4()), tier=common_pb2.TIER_PRO),
            metadata=bearer(operator_token),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
