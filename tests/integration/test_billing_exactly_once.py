"""Stripe receives every billed unit exactly once, whatever dies on the way (issue #15).

Real PostgreSQL, Kafka and stripe-mock (through the recording proxy that counts what reached "Stripe"
by identifier and de-duplicates like Stripe does). 10,000 usage events from 20 tenants; the billing
service process (its usage consumer, analytics consumer and Stripe reporter) SIGKILLed twice while it
reports, and the Kafka broker restarted once while it consumes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from sqlalchemy import func, select

from devstack import infra as devinfra
from devstack.stack import KAFKA_CONTROLLER_PORT, KAFKA_PORT, REPO, state_paths
from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import TENANT_EVENTS, USAGE, full_name
from services.billing.storage.stripe_tables import meter_reports, stripe_dead_letters
from services.billing.storage.tables import usage_totals
from tests.integration.stripe_proxy import StripeProxy
from timbre.v1 import common_pb2, events_pb2

pytestmark = pytest.mark.integration

TENANTS = 20
EVENTS = 10_000
METER_EVENTS = "/v1/billing/meter_events"
SENDERS = 4


def _produce(infra, topic, records) -> None:
    producer = Producer({**client_config(infra.kafka_bootstrap), "linger.ms": 20})
    for key, payload, tenant in records:
        envelope = pack(payload, tenant_id=tenant)
        producer.produce(
            full_name(infra.topic_prefix, topic.name),
            key=key.encode(),
            value=envelope.SerializeToString(),
            headers=headers_for(envelope),
        )
        producer.poll(0)
    assert producer.flush(60) == 0


def _usage(tenant: str, characters: int) -> events_pb2.UsageRecorded:
    return events_pb2.UsageRecorded(
        tenant_id=tenant,
        generation_ref=uuid.uuid4().hex,
        characters=characters,
        audio_seconds=characters / 15.0,
        compute_seconds=characters / 100.0,
        model="embedded",
        language="en",
        voice_id=str(uuid.uuid5(uuid.NAMESPACE_URL, tenant)),
        worker_class="cpu",
        first_chunk_seconds=0.2,
        total_seconds=characters / 100.0,
        kind="unary",
    )


class BillingProcess:
    """`python -m services.billing.main`, every worker running, Stripe behind the proxy."""

    def __init__(self, tenancy: str, stripe_url: str, log_path) -> None:
        self.log_path = log_path
        self.env = {
            **os.environ,
            "TIMBRE_GRPC_PORT": "0",
            "TIMBRE_METRICS_PORT": "0",
            "TIMBRE_TENANCY_ADDR": tenancy,
            "TIMBRE_STRIPE_API_KEY": "sk_test_exactlyonce",
            "TIMBRE_STRIPE_API_BASE": stripe_url,
            "TIMBRE_STRIPE_BATCH_SIZE": "100",
            "TIMBRE_STRIPE_SENDERS": str(SENDERS),
            "TIMBRE_STRIPE_LEASE_SECONDS": "3",
            "TIMBRE_STRIPE_POLL_SECONDS": "0.2",
            "TIMBRE_LOG_LEVEL": "INFO",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.billing.main"], cwd=REPO, env=self.env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # no shutdown hook runs
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _wait(condition, timeout: float, what: str, process: BillingProcess | None = None) -> None:
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if condition():
            print(f"{what}: {time.monotonic() - started:.1f} s")
            return
        if process and process.process and process.process.poll() is not None:
            raise AssertionError(f"billing exited ({process.process.returncode}) while waiting for {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def proxy(stripe_mock):
    proxy = StripeProxy(stripe_mock).start()
    yield proxy
    proxy.stop()


@pytest.mark.timeout(1800)
def test_ten_thousand_usage_events_reach_stripe_exactly_once_through_kills_and_a_broker_restart(
    infra, engine, tenancy, proxy, tmp_path
):
    rng = random.Random(15)
    tenants = [str(uuid.uuid4()) for _ in range(TENANTS)]
    _produce(
        infra,
        TENANT_EVENTS,
        [(t, events_pb2.TenantCreated(tenant_id=t, name=f"eo-{t[:8]}", tier=common_pb2.TIER_PRO), t) for t in tenants],
    )
    usage = [(t, rng.randint(1, 400)) for t in (rng.choice(tenants) for _ in range(EVENTS))]
    expected = Counter()
    for tenant, characters in usage:
        expected[tenant] += characters
    records = [(t, _usage(t, c), t) for t, c in usage]
    first_half, second_half = records[: EVENTS // 2], records[EVENTS // 2 :]
    _produce(infra, USAGE, first_half)

    billing = BillingProcess(tenancy, proxy.url, tmp_path / "billing.log")
    kills = restarts = 0
    try:
        billing.start()
        # Kill 1: while the reporter is sending (a batch is claimed and half sent).
        _wait(lambda: len(proxy.meter_events()) >= 1500, 300, "1500 meter events", billing)
        billing.kill()
        kills += 1
        billing.start()
        _produce(infra, USAGE, second_half)
        # The broker goes away while billing consumes the second half, then comes back.
        time.sleep(1.0)
        paths = state_paths()
        devinfra.kafka_down(paths)
        time.sleep(3.0)
        devinfra.kafka_up(paths, KAFKA_PORT, KAFKA_CONTROLLER_PORT)
        restarts += 1
        # Kill 2: later, again mid-batch.
        _wait(lambda: len(proxy.meter_events()) >= 6000, 600, "6000 meter events", billing)
        billing.kill()
        kills += 1
        billing.start()
        _wait(lambda: len(proxy.meter_totals()) >= EVENTS, 900, "every identifier at Stripe", billing)
        _wait(lambda: _pending(engine, tenants) == 0, 60, "the ledger to settle", billing)
    finally:
        billing.stop()

    accepted = proxy.meter_totals()  # identifier → value, each identifier once (as Stripe bills it)
    mine = {k: v for k, v in accepted.items() if any(t in k for t in tenants)}
    redelivered = proxy.duplicates()
    outcomes = Counter((a.outcome, a.status) for a in proxy.meter_events())
    print(
        f"\nexactly-once: events={EVENTS} tenants={TENANTS} kills={kills} broker_restarts={restarts} "
        f"arrivals={len(proxy.meter_events())} identifiers={len(mine)} units={sum(mine.values())} "
        f"expected_units={sum(expected.values())} redelivered_identifiers={len(redelivered)} outcomes={dict(outcomes)}"
    )
    assert len(mine) == EVENTS
    assert sum(mine.values()) == Decimal(sum(expected.values()))
    by_customer = proxy.meter_totals_by_customer()
    customers = _customers(engine, tenants)
    assert {t: by_customer[customers[t]] for t in tenants} == {t: Decimal(expected[t]) for t in tenants}
    # A kill can interrupt at most one send per sender between Stripe's answer and the ledger's commit:
    # that identifier goes again and Stripe drops it. Nothing else may arrive twice.
    assert len(redelivered) <= kills * SENDERS
    with engine.connect() as conn:
        totals = dict(
            conn.execute(
                select(usage_totals.c.tenant_id, func.sum(usage_totals.c.characters))
                .where(usage_totals.c.tenant_id.in_(tenants))
                .group_by(usage_totals.c.tenant_id)
            ).all()
        )
        dead = conn.execute(select(func.count()).where(stripe_dead_letters.c.tenant_id.in_(tenants))).scalar_one()
    assert {t: int(totals[t]) for t in tenants} == dict(expected)
    assert dead == 0
    logged = (tmp_path / "billing.log").read_text()
    assert "meter events" in logged  # the reporter logged its rounds…
    assert "sk_test_exactlyonce" not in logged  # …and never the Stripe key
    analytics = _analytics_totals(engine, tenants, sum(expected.values()))
    if analytics is not None:
        assert analytics == dict(expected)


def _pending(engine, tenants) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(meter_reports.c.tenant_id.in_(tenants), meter_reports.c.status != "sent")
        ).scalar_one()


def _customers(engine, tenants) -> dict[str, str]:
    from services.billing.storage.tables import accounts

    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(accounts.c.tenant_id, accounts.c.stripe_customer_id).where(accounts.c.tenant_id.in_(tenants))
            ).all()
        )


def _analytics_totals(engine, tenants, units: int) -> dict[str, int] | None:
    try:
        from services.billing.storage.analytics import usage_rollups
    except ImportError:
        return None
    deadline = time.monotonic() + 120
    while True:
        with engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(usage_rollups.c.tenant_id, func.sum(usage_rollups.c.characters))
                    .where(usage_rollups.c.tenant_id.in_(tenants))
                    .group_by(usage_rollups.c.tenant_id)
                ).all()
            )
        totals = {t: int(rows.get(t, 0)) for t in tenants}
        if sum(totals.values()) >= units or time.monotonic() > deadline:
            return totals
        time.sleep(1)
