"""The cost report use case on fakes: usage recorded per worker class, the report of a period from the
ledger, the storage line, the gauges, the background refresher and the gRPC translation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest
from prometheus_client import REGISTRY

from kit.events.envelope import Event, pack
from kit.grpc.auth import Principal, reset_principal, set_principal
from services.billing.domain.cost_model import BYTES_PER_TB, CostModel
from services.billing.domain.plans import DEFAULT_PLANS
from services.billing.domain.usage import Account, Usage
from services.billing.events.handlers import usage_of
from services.billing.grpc_api.servicer import BillingServicer
from services.billing.metrics import CostGauges
from services.billing.service_layer import usage
from services.billing.service_layer.reports import Reports
from tests.fakes.billing import FakeBillingUnitOfWork, FakeLedger
from tests.fakes.clock import FakeClock
from timbre.v1 import billing_pb2, common_pb2, events_pb2

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = CostModel(worker_hourly_usd={"cpu": 0.2, "gpu-nvidia-a10g": 1.2})


def record(ledger: FakeLedger, tenant: str, worker_class: str, seconds: float, characters: int, when=NOW) -> None:
    usage.record_usage(ledger, Usage(tenant, when, characters, characters * 0.06, seconds, worker_class))


@pytest.fixture
def ledger() -> FakeLedger:
    ledger = FakeLedger()
    usage.open_account(ledger, Account("t-pro", "Pro", "pro"))
    usage.open_account(ledger, Account("t-free", "Free", "free"))
    record(ledger, "t-pro", "gpu-nvidia-a10g", 120.0, 1000)
    record(ledger, "t-pro", "cpu", 30.0, 200)
    record(ledger, "t-free", "cpu", 10.0, 50)
    record(ledger, "t-free", "cpu", 99.0, 50, datetime(2026, 10, 3, tzinfo=UTC))  # October: not November's
    return ledger


def reports_over(ledger: FakeLedger, stored_bytes=None) -> Reports:
    return Reports(FakeBillingUnitOfWork(ledger), MODEL, FakeClock(NOW), DEFAULT_PLANS, stored_bytes)


def test_usage_without_a_worker_class_counts_as_cpu_and_each_class_keeps_its_own_totals(ledger):
    envelope = pack(events_pb2.UsageRecorded(tenant_id="t-old", characters=5, compute_seconds=2.0), tenant_id="t-old")
    assert usage_of(Event(envelope, envelope_payload(envelope))).worker_class == "cpu"
    november = {(c.tenant_id, c.worker_class): c for c in ledger.compute_totals("2026-11")}
    assert (november["t-pro", "gpu-nvidia-a10g"].compute_seconds, november["t-pro", "cpu"].requests) == (120.0, 1)
    assert november["t-free", "cpu"].compute_seconds == 10.0  # October's 99 s stayed in October


def envelope_payload(envelope):
    payload = events_pb2.UsageRecorded()
    envelope.payload.Unpack(payload)
    return payload


def test_the_report_prices_the_periods_compute_and_measures_storage(ledger):
    report = reports_over(ledger, stored_bytes=lambda: BYTES_PER_TB // 4).cost("2026-11")
    compute = 120.0 / 3600 * 1.2 + 40.0 / 3600 * 0.2
    fixed = sum(usd for _, usd in MODEL.lines(0.25))
    assert report.compute_usd == pytest.approx(compute) and report.fixed_usd == pytest.approx(fixed)
    assert report.requests == 3 and report.notes == []
    assert [t.tenant_id for t in report.tenants] == ["t-free", "t-pro"]
    assert report.tenants[1].revenue_usd == DEFAULT_PLANS["pro"].monthly_usd  # within its included characters


def test_storage_that_is_not_or_cannot_be_measured_is_zero_with_a_note(ledger):
    unmeasured = reports_over(ledger).cost("2026-11")
    assert unmeasured.fixed_usd == pytest.approx(sum(usd for _, usd in MODEL.lines(0.0)))
    assert any("not measured" in note for note in unmeasured.notes)

    def broken() -> int:
        raise ConnectionError("s3 is away")

    failed = reports_over(ledger, broken).cost("2026-11")
    assert any("ConnectionError" in note for note in failed.notes) and failed.requests == 3


def test_the_current_periods_report_sets_the_gauges_and_an_older_one_does_not(ledger):
    reports = reports_over(ledger)
    current = reports.cost()  # no period: the clock's, 2026-11
    assert current.period == "2026-11"
    gauge = REGISTRY.get_sample_value
    assert gauge("timbre_cost_per_request_usd", {"scope": "overall"}) == pytest.approx(current.cost_per_request_usd)
    assert gauge("timbre_compute_seconds", {"worker_class": "gpu-nvidia-a10g"}) == 120.0
    compute_only = current.compute_usd / current.overall.characters * 1000
    assert gauge("timbre_cost_per_1k_characters_usd", {"scope": "compute"}) == pytest.approx(compute_only)
    october = reports.cost("2026-10")
    assert october.requests == 1
    assert gauge("timbre_period_requests") == 3  # still November's


def test_the_gauge_worker_refreshes_until_stopped_and_survives_a_failing_round(ledger):
    calls: list[str] = []

    class Flaky:
        def cost(self, period: str = ""):
            calls.append(period)
            if len(calls) == 1:
                raise ConnectionError("database restarting")
            return reports_over(ledger).cost(period)

    stop = threading.Event()
    worker = threading.Thread(target=CostGauges(Flaky(), interval=0.01).run, args=(stop,))
    worker.start()
    while len(calls) < 3:
        stop.wait(0.01)
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and len(calls) >= 3


def test_get_cost_report_translates_every_figure_for_operators_only(ledger):
    # Only the reports are needed: the servicer's other collaborators are the Stripe side's.
    servicer = cast(BillingServicer, SimpleNamespace(reports=reports_over(ledger)))
    get_cost_report = BillingServicer.GetCostReport
    token = set_principal(Principal("op", "operator"))
    try:
        reply = get_cost_report(servicer, billing_pb2.GetCostReportRequest(period="2026-11"), None)
    finally:
        reset_principal(token)
    report = reports_over(ledger).cost("2026-11")
    assert reply.total_usd == pytest.approx(report.total_usd) and reply.requests == 3
    assert [c.worker_class for c in reply.compute] == ["cpu", "gpu-nvidia-a10g"]
    assert reply.compute[1].usd == pytest.approx(120.0 / 3600 * 1.2)
    pro = next(t for t in reply.tenants if t.tenant_id == "t-pro")
    assert pro.tier == common_pb2.TIER_PRO and pro.margin_usd == pytest.approx(pro.revenue_usd - pro.cost_usd)
    assert reply.overall.cost_usd == pytest.approx(report.total_usd) and list(reply.notes) == report.notes
    tenant = set_principal(Principal("k", "tenant", "t-pro"))
    try:
        with pytest.raises(Exception) as refused:
            get_cost_report(servicer, billing_pb2.GetCostReportRequest(period="2026-11"), None)
    finally:
        reset_principal(tenant)
    assert type(refused.value).__name__ == "PermissionDenied"
