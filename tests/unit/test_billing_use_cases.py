"""Billing's use cases on fakes: usage events aggregate once per event, into the period they occurred
in; usage summaries and the cost report. No database, no Kafka."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kit.errors import InvalidArgument
from kit.events.envelope import Event, pack
from services.billing.domain.cost_model import CostModel
from services.billing.events.handlers import handlers
from services.billing.service_layer.reports import Reports
from tests.fakes.billing import FakeBillingUnitOfWork, FakeInbox, FakeLedger
from tests.fakes.clock import FakeClock
from tests.fakes.stripe import FakeStripeLedger
from timbre.v1 import common_pb2, events_pb2

TENANT = "3f1c2d4e-0000-4000-8000-000000000001"


def _event(payload, occurred_at: datetime | None = None, event_id: str | None = None) -> Event:
    envelope = pack(payload, tenant_id=TENANT, event_id=event_id)
    if occurred_at is not None:
        envelope.occurred_at.FromDatetime(occurred_at)
    return Event(envelope, payload)


def _usage(characters: int, occurred_at: datetime, **amounts) -> Event:
    return _event(
        events_pb2.UsageRecorded(tenant_id=TENANT, generation_ref="g", characters=characters, **amounts), occurred_at
    )


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def inbox(ledger) -> FakeInbox:
    return FakeInbox(handlers(lambda conn: ledger, lambda conn: FakeStripeLedger()))


@pytest.fixture
def reports(ledger) -> Reports:
    return Reports(FakeBillingUnitOfWork(ledger), CostModel(), FakeClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC)))


def test_usage_events_aggregate_once_even_when_redelivered(inbox, ledger, reports):
    first = _usage(120, datetime(2026, 11, 3, tzinfo=UTC), audio_seconds=8.0, compute_seconds=1.5)
    second = _usage(30, datetime(2026, 11, 4, tzinfo=UTC), audio_seconds=2.0, compute_seconds=0.5)
    assert [inbox.deliver(e) for e in (first, second, first, second)] == [
        "applied",
        "applied",
        "duplicate",
        "duplicate",
    ]
    totals = reports.usage(TENANT, "2026-11").totals
    assert (totals.characters, totals.audio_seconds, totals.compute_seconds, totals.generations) == (
        150,
        10.0,
        2.0,
        2,
    )


def test_usage_counts_in_the_period_it_occurred_not_when_consumed(inbox, reports):
    inbox.deliver(_usage(40, datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)))
    inbox.deliver(_usage(2, datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)))
    assert reports.usage(TENANT, "2026-10").totals.characters == 40
    assert reports.usage(TENANT).totals.characters == 2  # no period: the clock's, 2026-11


def test_negative_usage_is_refused_and_leaves_no_mark(inbox, ledger):
    bad = _usage(-1, datetime(2026, 11, 3, tzinfo=UTC))
    with pytest.raises(ValueError, match="negative"):
        inbox.deliver(bad)
    assert bad.event_id not in inbox.processed and not ledger.totals


def test_tenant_created_opens_an_account_with_its_tier(inbox, ledger):
    inbox.deliver(_event(events_pb2.TenantCreated(tenant_id=TENANT, name="Acme", tier=common_pb2.TIER_PRO)))
    inbox.deliver(_event(events_pb2.TenantCreated(tenant_id="other", name="Old", tier=common_pb2.TIER_UNSPECIFIED)))
    assert (ledger.accounts[TENANT].name, ledger.accounts[TENANT].tier) == ("Acme", "pro")
    assert ledger.accounts["other"].tier == "free"


def test_a_period_without_usage_reports_zeros(reports):
    empty = reports.usage(TENANT, "2026-01")
    assert (empty.period, empty.totals.generations, empty.reported, empty.updated_at) == ("2026-01", 0, False, None)


@pytest.mark.parametrize("period", ["2026-13", "2026/11", "November"])
def test_malformed_periods_are_invalid(reports, period):
    with pytest.raises(InvalidArgument):
        reports.usage(TENANT, period)
    with pytest.raises(InvalidArgument):
        reports.cost(period)


def test_cost_report_spreads_the_fixed_monthly_cost_over_the_periods_generations(inbox, reports):
    for day in (1, 2, 3, 4):
        inbox.deliver(_usage(10, datetime(2026, 11, day, tzinfo=UTC), compute_seconds=1.5 * day))
    inbox.deliver(_usage(10, datetime(2026, 10, 5, tzinfo=UTC), compute_seconds=9.0))  # another period
    report = reports.cost("2026-11")
    fixed = sum(usd for _, usd in CostModel().lines(0.0))
    compute = 1.5 * (1 + 2 + 3 + 4) / 3600 * CostModel().hourly("cpu")[0]  # no worker class: cpu
    assert report.requests == 4 and report.fixed_usd == pytest.approx(fixed)
    assert report.compute_usd == pytest.approx(compute) and report.total_usd == pytest.approx(fixed + compute)
    assert report.cost_per_request_usd == pytest.approx((fixed + compute) / 4)
    idle = reports.cost("2026-09")
    assert (idle.requests, idle.cost_per_request_usd) == (0, 0.0)
