"""The cost report on the real PostgreSQL and Kafka: UsageRecorded events through billing's usage consumer
into the compute ledger, then the report's figures checked against figures computed here, by the plain
formulas, from the same inputs.

The report covers every tenant of a period, and other tests share this database, so each test writes to a
period of its own: a month long past that holds no usage yet (accounts dated before it)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from confluent_kafka import Producer
from sqlalchemy import delete, func, select, update

from kit.clock import SystemClock
from kit.events.consumer import EventConsumer
from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import USAGE, full_name
from services.billing.domain.cost_model import HOURS_PER_MONTH, CostModel
from services.billing.domain.plans import Plan
from services.billing.domain.usage import Account
from services.billing.events.handlers import HANDLERS
from services.billing.service_layer.reports import Reports
from services.billing.storage.compute import compute_totals
from services.billing.storage.repository import SqlLedger, SqlUnitOfWork
from services.billing.storage.tables import SCHEMA, accounts, usage_totals
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration

MODEL = CostModel(worker_hourly_usd={"cpu": 0.17, "gpu-nvidia-a10g": 1.006}, unknown_worker_hourly_usd=2.0)
# Small included amounts, so that the pro tenant's overage shows in its revenue.
PLANS = {
    "free": Plan("free", 0.0, 1_000, 0.0),
    "pro": Plan("pro", 99.0, 20_000, 0.20),
    "enterprise": Plan("enterprise", 499.0, 5_000_000, 0.12),
}


def empty_period(engine) -> tuple[str, datetime]:
    """A month in the 20th century that no usage has reached yet, and its first moment."""
    rng = random.Random()
    with engine.connect() as conn:
        for _ in range(50):
            start = datetime(rng.randint(1901, 1999), rng.randint(1, 12), 1, tzinfo=UTC)
            period = start.strftime("%Y-%m")
            used = conn.execute(
                select(func.count()).select_from(compute_totals).where(compute_totals.c.period == period)
            ).scalar_one()
            used += conn.execute(
                select(func.count()).select_from(usage_totals).where(usage_totals.c.period == period)
            ).scalar_one()
            if not used:
                return period, start
    raise AssertionError("no empty period found")


@pytest.fixture
def own_accounts(engine):
    """The tenants a test opens, removed afterwards: dated in the past, they would otherwise be paying
    accounts in every later test's period."""
    opened: list[str] = []
    yield opened
    with engine.begin() as conn:
        conn.execute(delete(accounts).where(accounts.c.tenant_id.in_(opened)))


def open_accounts(engine, start: datetime, tiers: dict[str, str], opened: list[str]) -> None:
    """Accounts as TenantCreated leaves them, dated before the period (the report lists paying accounts
    that existed in it)."""
    opened.extend(tiers)
    with engine.begin() as conn:
        ledger = SqlLedger(conn)
        for tenant, tier in tiers.items():
            ledger.upsert_account(Account(tenant, f"cost {tier}", tier))
        conn.execute(
            update(accounts).where(accounts.c.tenant_id.in_(list(tiers))).values(created_at=start - timedelta(days=1))
        )


def usage_envelope(tenant: str, when: datetime, characters: int, seconds: float, worker_class: str, kind: str):
    envelope = pack(
        events_pb2.UsageRecorded(
            tenant_id=tenant,
            generation_ref=uuid.uuid4().hex,
            characters=characters,
            audio_seconds=characters * 0.065,
            compute_seconds=seconds,
            worker_class=worker_class,
            total_seconds=seconds,
            first_chunk_seconds=seconds,
            kind=kind,
            language="en",
            voice_id="v-cost",
        ),
        tenant_id=tenant,
    )
    envelope.occurred_at.FromDatetime(when)
    return envelope


def feed(engine, infra, envelopes, expected_requests: int, period: str) -> None:
    """Through billing's usage consumer (its real handlers), until the ledger holds every request."""
    producer = Producer(client_config(infra.kafka_bootstrap))
    topic = full_name(infra.topic_prefix, USAGE.name)
    for envelope in envelopes:
        headers = cast(Any, headers_for(envelope))  # bytes header values: the stub wants str
        producer.produce(topic, key=envelope.tenant_id.encode(), value=envelope.SerializeToString(), headers=headers)
    assert producer.flush(10) == 0
    consumer = EventConsumer(
        f"billing-usage-cost-{uuid.uuid4().hex[:6]}",
        [USAGE],
        HANDLERS,
        engine,
        SCHEMA,
        infra.kafka_bootstrap,
        infra.topic_prefix,
        max_attempts=3,
        backoff_seconds=0.01,
    )

    def requests() -> int:
        with engine.connect() as conn:
            query = select(func.coalesce(func.sum(compute_totals.c.requests), 0)).where(
                compute_totals.c.period == period
            )
            return int(conn.execute(query).scalar_one())

    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and requests() < expected_requests:
            time.sleep(0.2)
        time.sleep(1.0)  # a duplicate that would double-count has time to arrive
    finally:
        stop.set()
        thread.join(15)
    assert requests() == expected_requests


def test_the_cost_report_from_usage_events_matches_the_hand_computed_figures(engine, infra, own_accounts):
    period, start = empty_period(engine)
    tenants = {f"cost-pro-{uuid.uuid4().hex[:8]}": "pro", f"cost-ent-{uuid.uuid4().hex[:8]}": "enterprise"}
    tenants[f"cost-free-{uuid.uuid4().hex[:8]}"] = "free"
    idle_enterprise = f"cost-idle-{uuid.uuid4().hex[:8]}"
    open_accounts(engine, start, {**tenants, idle_enterprise: "enterprise"}, own_accounts)
    pro, enterprise, free = list(tenants)

    rng = random.Random(15)
    plan = [(pro, "cpu"), (pro, "gpu-nvidia-a10g"), (enterprise, "gpu-nvidia-h200"), (free, "")]
    inputs = []  # (tenant, worker class as the ledger keeps it, characters, seconds)
    envelopes = []
    for index in range(40):
        tenant, worker_class = plan[index % len(plan)]
        characters, seconds = rng.randint(50, 3000), round(rng.uniform(0.2, 30.0), 3)
        when = start + timedelta(days=rng.randint(0, 27), seconds=rng.randint(0, 86399))
        envelopes.append(usage_envelope(tenant, when, characters, seconds, worker_class, "unary"))
        inputs.append((tenant, worker_class or "cpu", characters, seconds))
    envelopes.append(envelopes[3])  # delivered twice: counted once
    feed(engine, infra, envelopes, len(inputs), period)

    report = Reports(SqlUnitOfWork(engine), MODEL, SystemClock(), PLANS).cost(period)

    # --- by hand, from `inputs` ---
    seconds_by_class: dict[str, float] = defaultdict(float)
    for _, worker_class, _, seconds in inputs:
        seconds_by_class[worker_class] += seconds
    price = {"cpu": 0.17, "gpu-nvidia-a10g": 1.006, "gpu-nvidia-h200": 2.0}
    compute_usd = sum(s / 3600 * price[c] for c, s in seconds_by_class.items())
    fixed = 0.17 * 3 * HOURS_PER_MONTH + 200 + 150  # storage not measured: 0 TB
    requests = len(inputs)
    characters = sum(c for _, _, c, _ in inputs)
    audio = sum(c * 0.065 for _, _, c, _ in inputs)
    assert {c.worker_class: c.compute_seconds for c in report.compute} == pytest.approx(dict(seconds_by_class))
    assert report.requests == requests and report.fixed_usd == pytest.approx(fixed)
    assert report.compute_usd == pytest.approx(compute_usd)
    assert report.total_usd == pytest.approx(fixed + compute_usd)
    overall = report.overall
    assert overall.cost_per_request_usd == pytest.approx((fixed + compute_usd) / requests)
    assert overall.cost_per_1k_characters_usd == pytest.approx((fixed + compute_usd) / characters * 1000)
    assert overall.cost_per_audio_minute_usd == pytest.approx((fixed + compute_usd) / (audio / 60))
    assert any("gpu-nvidia-h200" in note for note in report.notes)

    by_tenant = {t.tenant_id: t for t in report.tenants}
    assert set(by_tenant) == {pro, enterprise, free, idle_enterprise}
    revenue = 0.0
    for tenant, tier in tenants.items():
        mine = [(c, s, wc) for t, wc, c, s in inputs if t == tenant]
        cost = by_tenant[tenant]
        tenant_compute = sum(s / 3600 * price[wc] for _, s, wc in mine)
        tenant_chars = sum(c for c, _, _ in mine)
        plan_of = PLANS[tier]
        tenant_revenue = plan_of.monthly_usd + max(0, tenant_chars - plan_of.included_characters) / 1000 * (
            plan_of.overage_usd_per_1k
        )
        revenue += tenant_revenue
        assert (cost.tier, cost.requests, cost.characters) == (tier, len(mine), tenant_chars)
        assert cost.compute_usd == pytest.approx(tenant_compute)
        assert cost.fixed_share_usd == pytest.approx(fixed * len(mine) / requests)
        assert cost.cost_per_request_usd == pytest.approx((tenant_compute + fixed * len(mine) / requests) / len(mine))
        assert cost.revenue_usd == pytest.approx(tenant_revenue)
        assert cost.margin_usd == pytest.approx(tenant_revenue - tenant_compute - fixed * len(mine) / requests)
    assert by_tenant[pro].revenue_usd > 99.0  # over its included characters
    idle = by_tenant[idle_enterprise]
    assert (idle.requests, idle.cost_usd, idle.revenue_usd) == (0, 0.0, 499.0)
    assert overall.revenue_usd == pytest.approx(revenue + 499.0)
    assert overall.margin_usd == pytest.approx(revenue + 499.0 - fixed - compute_usd)


@pytest.mark.timeout(900)  # six real generations on two loaded cores
def test_a_measured_run_of_the_real_engine_priced_by_the_report(engine, infra, capsys, own_accounts):
    """Generations through the real speaking path (embedded engine, watermark, encoding) on this machine:
    their UsageRecorded events, with the compute seconds and worker class the Speaker measured, priced by
    the report. Prints the report (`pytest -s`): docs/cost.md's sample."""
    import os
    from types import SimpleNamespace

    from cli import samples
    from cli.cost_report import cost_report_table
    from kit.grpc.auth import Principal, reset_principal, set_principal
    from kit.watermark import Watermarker
    from services.billing.grpc_api.servicer import BillingServicer
    from services.synthesis.engine.factory import make_engine
    from services.synthesis.engine.worker_class import worker_class_of
    from services.synthesis.service_layer.artifacts import Artifacts
    from services.synthesis.service_layer.speech import Caller, Speaker, SpeechRequest
    from services.synthesis.service_layer.voice_builds import BuildOutcome, BuildRequest, VoiceBuilds, VoiceRef
    from tests.fakes.clock import FakeClock
    from tests.fakes.data_keys import fake_vault
    from tests.fakes.storage import FakeObjectStore
    from tests.fakes.synthesis import FakeQuotas, FakeUnitOfWork, StoredSamples
    from timbre.v1 import billing_pb2, common_pb2

    period, start = empty_period(engine)
    tenant = f"cost-measured-{uuid.uuid4().hex[:8]}"
    open_accounts(engine, start, {tenant: "pro"}, own_accounts)

    voice_engine = make_engine("embedded")
    clock = FakeClock()  # for consent dates only; the Speaker times generations on the real clock
    store, uow = FakeObjectStore(), FakeUnitOfWork(clock)
    artifacts = Artifacts(store, voice_engine, 4, vault=fake_vault(store), uow=uow)
    builds = VoiceBuilds(store, artifacts, voice_engine, clock, samples=StoredSamples(store))
    voice_id = str(uuid.uuid4())
    repo = uow.joined()
    builds.requested(repo, VoiceRef(voice_id, tenant))
    reference = " ".join(samples.PASSAGES[:3])
    key = artifacts.put(tenant, voice_id, voice_engine.build_voice([samples.joe(reference)], reference))
    builds.apply_build(repo, BuildRequest(voice_id, tenant, ()), BuildOutcome(artifact_key=key))
    builds.consent_granted(repo, VoiceRef(voice_id, tenant), "consent", clock.now() + timedelta(days=30))
    speaker = Speaker(
        uow,
        artifacts,
        voice_engine,
        Watermarker(bytes.fromhex(os.environ["TIMBRE_WATERMARK_KEY"])),
        FakeQuotas(),
        1.472,
        1800,
        worker_class=worker_class_of(os.environ.get("TIMBRE_WORKER_CLASS", ""), voice_engine.device),
    )
    caller = Caller(tenant, "key", common_pb2.TIER_PRO)
    texts = [samples.PASSAGES[i % len(samples.PASSAGES)] for i in range(6)]
    for index, text in enumerate(texts):
        request = SpeechRequest(voice_id, text, "en", format="mp3")
        if index % 2:
            speaker.synthesize(caller, request)
        else:
            b"".join(speaker.stream(caller, request)[1])
    usages = [p for _, _, p in uow.tables.events if isinstance(p, events_pb2.UsageRecorded)]
    assert len(usages) == len(texts) and all(u.compute_seconds > 0 for u in usages)
    envelopes = []
    for offset, payload in enumerate(usages):
        envelope = pack(payload, tenant_id=tenant)
        envelope.occurred_at.FromDatetime(start + timedelta(hours=offset))
        envelopes.append(envelope)
    feed(engine, infra, envelopes, len(usages), period)

    reports = Reports(SqlUnitOfWork(engine), CostModel(), SystemClock())
    report = reports.cost(period)
    measured = sum(u.compute_seconds for u in usages)
    assert report.overall.compute_seconds == pytest.approx(measured) and report.requests == len(texts)
    token = set_principal(Principal("op", "operator"))
    try:
        servicer = cast(BillingServicer, SimpleNamespace(reports=reports))
        reply = BillingServicer.GetCostReport(servicer, billing_pb2.GetCostReportRequest(period=period), None)
    finally:
        reset_principal(token)
    with capsys.disabled():
        print(
            f"\n{len(texts)} generations, {sum(len(t) for t in texts)} characters,"
            f" worker class {usages[0].worker_class}"
        )
        for u in usages:
            print(
                f"  {u.kind:6} {u.characters:5} chars  {u.audio_seconds:6.2f} s audio"
                f"  compute {u.compute_seconds:.3f} s"
                f"  first chunk {u.first_chunk_seconds:.3f} s"
            )
        print(cost_report_table(reply))
