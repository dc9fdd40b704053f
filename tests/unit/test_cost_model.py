"""The cost arithmetic: measured compute × the worker class's hourly price, fixed monthly costs shared by
requests, per-unit costs, revenue from the tier's plan and the margin. Expected figures are computed here
from the same inputs by the plain formulas, not copied from an output."""

from __future__ import annotations

import pytest

from services.billing.domain.cost_model import HOURS_PER_MONTH, CostModel
from services.billing.domain.plans import DEFAULT_PLANS
from services.billing.domain.usage import Account, ComputeTotals

PERIOD = "2026-11"
MODEL = CostModel(worker_hourly_usd={"cpu": 0.17, "gpu-nvidia-a10g": 1.006}, unknown_worker_hourly_usd=2.5)


def fixed_monthly(model: CostModel, storage_tb: float = 0.0) -> float:
    return (
        model.api_hourly_usd * model.api_count * HOURS_PER_MONTH
        + model.postgres_monthly_usd
        + model.kafka_redis_monthly_usd
        + model.storage_usd_per_tb_month * storage_tb
    )


def test_the_seeds_fixed_costs_without_gpu_workers_which_are_now_measured():
    assert sum(usd for _, usd in CostModel().lines(1.0)) == pytest.approx(0.17 * 3 * 730 + 200 + 150 + 23)
    assert not any("GPU" in item for item, _ in CostModel().lines(0.0))
    assert CostModel().hourly("gpu-nvidia-a10g") == (1.006, False) and CostModel().hourly("cpu") == (0.17, False)
    assert CostModel().hourly("gpu-nvidia-h200") == (CostModel().unknown_worker_hourly_usd, True)


def test_compute_is_priced_per_class_and_fixed_costs_are_shared_by_requests():
    compute = [
        ComputeTotals("a", PERIOD, "cpu", compute_seconds=7200.0, requests=30, characters=600_000, audio_seconds=900.0),
        ComputeTotals("a", PERIOD, "gpu-nvidia-a10g", 1800.0, 10, 100_000, 300.0),
        ComputeTotals("b", PERIOD, "cpu", 360.0, 10, 5_000, 120.0),
    ]
    accounts = [Account("a", "A", "pro"), Account("b", "B", "free"), Account("c", "C", "enterprise")]
    report = MODEL.report(PERIOD, compute, accounts, DEFAULT_PLANS, storage_tb=0.5)

    fixed = fixed_monthly(MODEL, 0.5)
    cpu_usd = (7200.0 + 360.0) / 3600 * 0.17
    gpu_usd = 1800.0 / 3600 * 1.006
    assert [(c.worker_class, c.compute_seconds, c.hourly_usd) for c in report.compute] == [
        ("cpu", 7560.0, 0.17),
        ("gpu-nvidia-a10g", 1800.0, 1.006),
    ]
    assert report.compute_usd == pytest.approx(cpu_usd + gpu_usd) and report.fixed_usd == pytest.approx(fixed)
    assert report.total_usd == pytest.approx(fixed + cpu_usd + gpu_usd) and report.requests == 50
    assert report.cost_per_request_usd == pytest.approx((fixed + cpu_usd + gpu_usd) / 50)

    a, b, c = report.tenants
    a_compute = 7200.0 / 3600 * 0.17 + 1800.0 / 3600 * 1.006
    assert (a.tenant_id, a.requests, a.characters, a.audio_seconds) == ("a", 40, 700_000, 1200.0)
    assert a.compute_usd == pytest.approx(a_compute) and a.fixed_share_usd == pytest.approx(fixed * 40 / 50)
    assert a.cost_per_request_usd == pytest.approx((a_compute + fixed * 0.8) / 40)
    assert a.cost_per_1k_characters_usd == pytest.approx((a_compute + fixed * 0.8) / 700)
    assert a.cost_per_audio_minute_usd == pytest.approx((a_compute + fixed * 0.8) / 20)
    pro = DEFAULT_PLANS["pro"]
    assert a.revenue_usd == pytest.approx(pro.monthly_usd + (700_000 - pro.included_characters) / 1000 * 0.20)
    assert a.margin_usd == pytest.approx(a.revenue_usd - a.cost_usd)
    assert (b.tier, b.revenue_usd, b.fixed_share_usd) == ("free", 0.0, pytest.approx(fixed * 10 / 50))
    # An enterprise tenant that did not speak still pays its plan and costs nothing measured.
    assert (c.tenant_id, c.requests, c.cost_usd, c.revenue_usd) == ("c", 0, 0.0, 499.0)
    assert c.cost_per_request_usd == 0.0 and c.margin_usd == 499.0

    overall = report.overall
    assert sum(t.fixed_share_usd for t in report.tenants) == pytest.approx(overall.fixed_share_usd)
    assert sum(t.cost_usd for t in report.tenants) == pytest.approx(overall.cost_usd) == report.total_usd
    assert overall.revenue_usd == pytest.approx(a.revenue_usd + 0.0 + 499.0)
    assert overall.margin_usd == pytest.approx(overall.revenue_usd - report.total_usd)
    assert report.notes == []


def test_an_unpriced_worker_class_is_priced_at_the_default_with_a_warning():
    compute = [ComputeTotals("a", PERIOD, "gpu-nvidia-h200", 3600.0, 4, 400, 40.0)]
    report = MODEL.report(PERIOD, compute, [Account("a", "A", "pro")], DEFAULT_PLANS)
    (h200,) = report.compute
    assert h200.priced_by_default and h200.hourly_usd == 2.5 and h200.usd == pytest.approx(2.5)
    assert any("gpu-nvidia-h200" in note and "default" in note for note in report.notes)


def test_usage_of_a_tenant_billing_does_not_know_counts_as_free_and_is_noted():
    report = MODEL.report(PERIOD, [ComputeTotals("ghost", PERIOD, "cpu", 10.0, 1, 10, 1.0)], [], DEFAULT_PLANS)
    assert report.tenants[0].tier == "free" and report.tenants[0].revenue_usd == 0.0
    assert any("no billing account" in note for note in report.notes)


def test_a_period_without_requests_keeps_its_fixed_cost_and_divides_by_nothing():
    report = MODEL.report(PERIOD, [], [Account("f", "F", "free")], DEFAULT_PLANS)
    assert report.tenants == [] and report.requests == 0  # a free tenant that did nothing is not listed
    assert report.total_usd == pytest.approx(fixed_monthly(MODEL)) == report.overall.cost_usd
    assert report.overall.cost_per_request_usd == 0.0 and report.overall.cost_per_1k_characters_usd == 0.0
