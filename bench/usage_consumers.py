"""Usage events per second through billing's consumers, and how long the lag takes to drain after a burst.

A burst of N UsageRecorded events (many tenants, voices, languages, models, spread over a week) is
produced to a fresh topic prefix; then each consumer is started on that backlog and timed until it has
applied every event: group join, drain time (from start to lag 0) and events/s while draining. The
baseline is the same EventConsumer with an empty handler on the same events (inbox mark, transaction and
offset commit per event, no roll-up), so the ratio is what the analytics handler itself costs.

Measured, in turn, on the same burst:
- analytics: the analytics consumer (roll-ups per tenant x day x voice x language x model, sketches merged);
- billing: billing's usage consumer (usage totals, compute totals and one Stripe ledger row per generation;
  its group also reads the tenants' TenantCreated events, produced before the burst, and opens their accounts);
- stripe-reporter: the Stripe reporter on the ledger the billing consumer filled: customers and subscriptions
  made for the tenants (`sync_accounts`, counted as its "join"), then `report_due` until the ledger is
  drained, every meter event sent through the official SDK to the local stripe-mock. Next to it, the same
  SDK calls straight to stripe-mock with no ledger (what the HTTP round trip alone allows).

Needs the local stack's PostgreSQL, Kafka and stripe-mock (started if needed). Writes into a database of its own
(timbre_bench) and a topic prefix of its own, deleted afterwards.
Usage: python -m bench.usage_consumers [--events 100000] [--tenants 50]
"""

from __future__ import annotations

import argparse
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BENCH_DATABASE = "postgresql+psycopg://timbre@127.0.0.1:55432/timbre_bench"
PREFIX = f"bench-{secrets.token_hex(3)}."
os.environ["TIMBRE_DATABASE_URL"] = BENCH_DATABASE
os.environ["TIMBRE_TOPIC_PREFIX"] = PREFIX
os.environ.setdefault("TIMBRE_LOG_LEVEL", "WARNING")

from confluent_kafka import Producer  # noqa: E402 - after the environment is set
from confluent_kafka.admin import AdminClient  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402

from bench.common import machine_facts  # noqa: E402
from kit.clock import SystemClock  # noqa: E402
from kit.config import KitSettings  # noqa: E402
from kit.db.engine import make_engine  # noqa: E402
from kit.events.consumer import EventConsumer, Handler  # noqa: E402
from kit.events.envelope import headers_for, pack  # noqa: E402
from kit.events.kafka import client_config  # noqa: E402
from kit.events.topics import GENERATION_LIFECYCLE, TENANT_EVENTS, USAGE, full_name  # noqa: E402
from kit.metrics import EVENTS_CONSUMED  # noqa: E402
from services.billing.adapters.stripe_api import SdkStripeApi  # noqa: E402
from services.billing.config import BillingSettings  # noqa: E402
from services.billing.domain.metering import MeterEvent, Verdict, meter_identifier  # noqa: E402
from services.billing.events import analytics_handlers  # noqa: E402
from services.billing.events.handlers import HANDLERS as BILLING_HANDLERS  # noqa: E402
from services.billing.service_layer.stripe_billing import StripeBilling  # noqa: E402
from services.billing.storage.analytics import usage_rollups  # noqa: E402
from services.billing.storage.stripe_ledger import SqlStripeUnitOfWork  # noqa: E402
from services.billing.storage.stripe_tables import meter_reports, stripe_dead_letters  # noqa: E402
from services.billing.storage.tables import SCHEMA, accounts, usage_totals  # noqa: E402
from timbre.v1 import common_pb2, events_pb2  # noqa: E402

USAGE_TYPE = events_pb2.UsageRecorded.DESCRIPTOR.full_name
STRIPE_KEY = "sk_test_bench"  # stripe-mock takes any test key
TIERS = (common_pb2.TIER_PRO, common_pb2.TIER_ENTERPRISE)  # both have a metered price


@dataclass(frozen=True)
class Burst:
    events: int
    tenants: list[str]
    characters: int
    produce_seconds: float


@dataclass(frozen=True)
class Drain:
    name: str
    events: int
    join_seconds: float  # consumer start → first event applied (group join, assignment, first fetch)
    drain_seconds: float  # consumer start → every event applied (lag 0)

    @property
    def events_per_second(self) -> float:
        return self.events / max(self.drain_seconds - self.join_seconds, 1e-9)


def kafka_headers(envelope: events_pb2.EventEnvelope) -> list[tuple[str, str | bytes | None]]:
    return list(headers_for(envelope))  # the producer's (invariant) header type


def produce_burst(settings: KitSettings, events: int, tenants: int) -> Burst:
    """N usage events keyed by tenant (as synthesis writes them), as fast as the producer takes them."""
    bench_tenants = [f"bench-{secrets.token_hex(4)}-{i:03d}" for i in range(tenants)]
    producer = Producer({**client_config(settings.kafka_bootstrap), "linger.ms": 20, "compression.type": "lz4"})
    # The tenants first, as tenancy announces them: billing's consumer opens their accounts from these.
    for i, tenant in enumerate(bench_tenants):
        created = pack(
            events_pb2.TenantCreated(tenant_id=tenant, name=f"bench {i}", tier=TIERS[i % len(TIERS)]), tenant_id=tenant
        )
        producer.produce(
            full_name(PREFIX, TENANT_EVENTS.name),
            key=tenant.encode(),
            value=created.SerializeToString(),
            headers=kafka_headers(created),
        )
    topic = full_name(PREFIX, USAGE.name)
    now = datetime.now(UTC)
    characters = 0
    started = time.perf_counter()
    for i in range(events):
        tenant = bench_tenants[i % tenants]
        amount = 50 + (i * 37) % 450
        characters += amount
        envelope = pack(
            events_pb2.UsageRecorded(
                tenant_id=tenant,
                generation_ref=f"g-{i}",
                characters=amount,
                audio_seconds=amount / 15.0,
                compute_seconds=amount / 120.0,
                voice_id=f"voice-{i % 7}",
                language=("th", "en")[i % 2],
                model=("vits-th", "kokoro-en", "piper-th")[i % 3],
                first_chunk_seconds=0.15 + (i % 97) / 300,
                total_seconds=0.6 + (i % 89) / 40,
                kind="stream",
            ),
            tenant_id=tenant,
        )
        envelope.occurred_at.FromDatetime(now - timedelta(hours=(i * 13) % 168))  # spread over a week
        while True:
            try:
                producer.produce(
                    topic, key=tenant.encode(), value=envelope.SerializeToString(), headers=kafka_headers(envelope)
                )
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    return Burst(events, bench_tenants, characters, time.perf_counter() - started)


def applied(name: str, event_type: str = USAGE_TYPE) -> float:
    return sum(EVENTS_CONSUMED.labels(name, event_type, outcome)._value.get() for outcome in ("applied", "duplicate"))


def drain(
    name: str,
    handlers: dict[str, Handler],
    engine: Engine,
    settings: KitSettings,
    events: int,
    topics=(USAGE, GENERATION_LIFECYCLE),
    also: tuple[tuple[str, int], ...] = (),
) -> Drain:
    """Start a consumer (its own group) on the backlog; time it until it has handled every event (and the
    `also` events: other types it must have applied too)."""
    consumer = EventConsumer(name, list(topics), handlers, engine, SCHEMA, settings.kafka_bootstrap, PREFIX)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    started = time.perf_counter()
    thread.start()
    first = None
    try:
        while applied(name) < events or any(applied(name, kind) < count for kind, count in also):
            if first is None and applied(name) > 0:
                first = time.perf_counter() - started
            if time.perf_counter() - started > 3600:
                raise TimeoutError(f"{name}: {applied(name):.0f} of {events} events (+{also}) after an hour")
            time.sleep(0.05)
        drained = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(30)
    return Drain(name, events, first or drained, drained)


def baseline(engine: Engine, settings: KitSettings, burst: Burst) -> Drain:
    """The consumer machinery alone: inbox mark + transaction + offset commit, an empty handler."""
    nothing: Handler = lambda conn, event: None  # noqa: E731
    return drain(f"bench-empty-{secrets.token_hex(2)}", {USAGE_TYPE: nothing}, engine, settings, burst.events)


def analytics(engine: Engine, settings: KitSettings, burst: Burst) -> Drain:
    """The analytics consumer (roll-up upsert with sketch merge under a row lock), checked against the burst."""
    result = drain(
        f"bench-analytics-{secrets.token_hex(2)}", analytics_handlers.HANDLERS, engine, settings, burst.events
    )
    with engine.connect() as conn:
        rolled = conn.execute(
            select(func.sum(usage_rollups.c.characters), func.sum(usage_rollups.c.requests)).where(
                usage_rollups.c.tenant_id.in_(burst.tenants)
            )
        ).one()
    assert (rolled[0], rolled[1]) == (burst.characters, burst.events), f"roll-ups {tuple(rolled)} != burst"
    return result


def billing(engine: Engine, settings: KitSettings, burst: Burst) -> Drain:
    """Billing's usage consumer (as `services.billing.main.usage_consumer` runs it: tenant and usage topics),
    checked against the burst: usage totals and one pending ledger row per generation."""
    result = drain(
        f"bench-billing-{secrets.token_hex(2)}",
        BILLING_HANDLERS,
        engine,
        settings,
        burst.events,
        (TENANT_EVENTS, USAGE),
        ((events_pb2.TenantCreated.DESCRIPTOR.full_name, len(burst.tenants)),),
    )
    with engine.connect() as conn:
        totalled = conn.execute(
            select(func.sum(usage_totals.c.characters), func.sum(usage_totals.c.generations)).where(
                usage_totals.c.tenant_id.in_(burst.tenants)
            )
        ).one()
        ledger = conn.execute(
            select(func.count(), func.sum(meter_reports.c.value)).where(meter_reports.c.tenant_id.in_(burst.tenants))
        ).one()
    assert (totalled[0], totalled[1]) == (burst.characters, burst.events), f"usage totals {tuple(totalled)} != burst"
    assert (ledger[0], ledger[1]) == (burst.events, burst.characters), f"Stripe ledger {tuple(ledger)} != burst"
    return result


def _accounts_synced(engine: Engine, tenants: list[str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(accounts.c.tenant_id, accounts.c.stripe_customer_id).where(
                accounts.c.tenant_id.in_(tenants), accounts.c.stripe_subscription_id.is_not(None)
            )
        ).all()
    return {tenant: customer for tenant, customer in rows if customer}


def _unsent(engine: Engine, tenants: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(meter_reports.c.tenant_id.in_(tenants), meter_reports.c.status != "sent")
        ).scalar_one()


def stripe_reporter(engine: Engine, settings: KitSettings, burst: Burst) -> Drain:
    """The Stripe reporter draining the ledger the billing consumer filled, against the local stripe-mock."""
    from devstack.infra import stripe_mock_up
    from devstack.stack import STRIPE_MOCK_HTTPS_PORT, STRIPE_MOCK_PORT, state_paths

    base_url = stripe_mock_up(state_paths(), STRIPE_MOCK_PORT, STRIPE_MOCK_HTTPS_PORT)
    billing_settings = BillingSettings()
    api = SdkStripeApi(STRIPE_KEY, base_url)
    reporter = StripeBilling(
        SqlStripeUnitOfWork(engine),
        api,
        billing_settings.plans(),
        SystemClock(),
        billing_settings.stripe_meter_event_name,
        batch_size=billing_settings.stripe_batch_size,
        lease_seconds=billing_settings.stripe_lease_seconds,
        senders=billing_settings.stripe_senders,
    )
    with engine.connect() as conn:
        queued = conn.execute(
            select(func.count()).where(
                meter_reports.c.tenant_id.in_(burst.tenants), meter_reports.c.status == "pending"
            )
        ).scalar_one()
    assert queued == burst.events, f"the billing consumer must fill the ledger first ({queued} of {burst.events})"

    started = time.perf_counter()
    while reporter.sync_accounts():  # customers and subscriptions (catalog made on the first)
        pass
    synced = time.perf_counter() - started
    customers = _accounts_synced(engine, burst.tenants)
    assert len(customers) == len(burst.tenants), f"{len(customers)} of {len(burst.tenants)} accounts at stripe-mock"

    # The HTTP round trip alone: the same SDK call, no ledger (outside the timed drain).
    alone = min(burst.events, 1000)
    tenant = burst.tenants[0]
    began = time.perf_counter()
    for i in range(alone):
        event = MeterEvent(meter_identifier(tenant, f"alone-{i}"), tenant, 1, datetime.now(UTC))
        assert api.send_meter_event(reporter.meter_event_name, event, customers[tenant]).verdict is Verdict.SENT
    print(
        f"{'stripe-mock alone':<18} {alone / (time.perf_counter() - began):8.0f} events/s   "
        f"({alone} meter events through the SDK, no ledger: the HTTP round trip's ceiling for one sender)"
    )

    began = time.perf_counter()
    sent = retried = 0
    while True:
        round_ = reporter.report_due()
        sent += round_.sent
        retried += round_.retried  # timeouts or 5xx on a loaded machine: sent again after the backoff
        assert round_.dead == 0, f"stripe-mock refused meter events: {round_}"
        if round_.sent == 0 or round_.handled < reporter.batch_size:
            if _unsent(engine, burst.tenants) == 0:
                break
            if round_.sent == 0:
                time.sleep(0.1)  # only rows waiting for their backoff (or for a customer) are left
        if time.perf_counter() - began > 3600:
            raise TimeoutError(f"stripe reporter: {sent} of {burst.events} meter events after an hour")
    if retried:
        print(f"{'':<18} (stripe reporter: {retried} sends answered retry-later and sent again, in the drain time)")
    drained = synced + time.perf_counter() - began
    with engine.connect() as conn:
        left = conn.execute(
            select(func.count()).where(meter_reports.c.tenant_id.in_(burst.tenants), meter_reports.c.status != "sent")
        ).scalar_one()
        dead = conn.execute(select(func.count()).where(stripe_dead_letters.c.tenant_id.in_(burst.tenants))).scalar_one()
    assert (left, dead) == (0, 0), f"{left} ledger rows unsent, {dead} dead letters"
    if sent > burst.events:
        # An earlier, interrupted run left rows pending in the bench database: they went too, and count.
        print(f"{'':<18} (stripe reporter: {sent - burst.events} rows left pending by an earlier run sent as well)")
    return Drain(f"stripe-reporter-{secrets.token_hex(2)}", sent, synced, drained)


def report(result: Drain, base: Drain | None = None) -> str:
    line = (
        f"{result.name.rsplit('-', 1)[0]:<18} {result.events_per_second:8.0f} events/s   "
        f"drain {result.drain_seconds:7.1f} s (join {result.join_seconds:4.1f} s)"
    )
    if base is not None:
        line += f"   {result.events_per_second / base.events_per_second:5.2f}× the baseline's rate"
    return line


def delete_topics(settings: KitSettings) -> None:
    admin = AdminClient(client_config(settings.kafka_bootstrap))
    ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(PREFIX)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result()


# The consumers measured, in order (the Stripe reporter drains the ledger the billing consumer fills).
CONSUMERS: list[tuple[str, Callable[[Engine, KitSettings, Burst], Drain]]] = [
    ("analytics", analytics),
    ("billing", billing),
    ("stripe-reporter", stripe_reporter),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=50)
    args = parser.parse_args()

    from devstack.stack import infra_up

    infra_up(quiet=True)  # PostgreSQL, Kafka, the bench database migrated, topics under the bench prefix
    settings = KitSettings()
    engine = make_engine(settings.database_url, 4)
    try:
        burst = produce_burst(settings, args.events, args.tenants)
        print(f"machine: {machine_facts()}")
        print(
            f"burst: {burst.events} UsageRecorded events, {args.tenants} tenants, "
            f"produced in {burst.produce_seconds:.1f} s ({burst.events / burst.produce_seconds:.0f}/s); "
            f"each consumer then drains it as a backlog (one consumer, {USAGE.partitions} partitions)"
        )
        base = baseline(engine, settings, burst)
        print(report(base) + "   (baseline: empty handler)")
        for _, measure in CONSUMERS:
            print(report(measure(engine, settings, burst), base))
    finally:
        engine.dispose()
        delete_topics(settings)


if __name__ == "__main__":
    main()
