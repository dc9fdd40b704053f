"""The cost report's edges: `timbre admin cost-report` (its help starts without grpc; the table and JSON
it prints) and the operator route GET /v1/admin/cost-report."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import cast

import pytest
from fastapi.testclient import TestClient

from cli.cost_report import cost_report_dict, cost_report_table
from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.grpc.auth import Principal, reset_principal, set_principal
from services.billing.domain.cost_model import CostModel
from services.billing.domain.plans import DEFAULT_PLANS
from services.billing.domain.usage import Account, ComputeTotals
from services.billing.grpc_api.servicer import BillingServicer
from tests.fakes.gateway import FakeTenancy, fake_backends
from tests.unit.test_cli_startup import ENGINE_STACK, run_cli
from timbre.v1 import billing_pb2

OPERATOR = {"Authorization": "Bearer operator-secret"}


def reply_for(period: str = "2026-11") -> billing_pb2.GetCostReportResponse:
    """A reply as the billing servicer translates a report made from these inputs."""
    compute = [
        ComputeTotals("t-a", period, "cpu", 90.0, 3, 1200, 80.0),
        ComputeTotals("t-b", period, "gpu-nvidia-t4", 30.0, 1, 300, 20.0),
    ]
    accounts = [Account("t-a", "A", "pro"), Account("t-b", "B", "free")]
    report = CostModel().report(period, compute, accounts, DEFAULT_PLANS)

    class Reports:
        def cost(self, asked: str = "") -> object:
            return report

    token = set_principal(Principal("op", "operator"))
    try:
        servicer = cast(BillingServicer, SimpleNamespace(reports=Reports()))
        return BillingServicer.GetCostReport(servicer, billing_pb2.GetCostReportRequest(period=period), None)
    finally:
        reset_principal(token)


def test_cost_report_help_needs_neither_the_engine_nor_grpc():
    output, probe = run_cli("admin", "cost-report", "--help", watch=(*ENGINE_STACK, "scipy", "grpc", "cli.cost_report"))
    assert probe == {"exit": 0, "loaded": []} and "--period" in output and "--json" in output


def test_the_table_shows_each_tenant_the_overall_line_and_the_warnings():
    reply = reply_for()
    table = cost_report_table(reply)
    assert "Cost report 2026-11" in table and "gpu-nvidia-t4" in table
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("  t-") or "overall" in line}
    assert set(rows) == {"t-a", "t-b", "overall"}
    assert f"{reply.requests:,}" in rows["overall"] and "pro" in rows["t-a"]
    assert "warning: worker class 'gpu-nvidia-t4'" in table  # no price configured for it
    as_json = json.loads(json.dumps(cost_report_dict(reply)))
    assert as_json["requests"] == "4"  # proto JSON writes int64 as a string
    assert as_json["overall"]["cost_usd"] == pytest.approx(reply.total_usd)
    assert [t["tenant_id"] for t in as_json["tenants"]] == ["t-a", "t-b"]


class FakeBillingStub:
    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    def GetCostReport(self, request: billing_pb2.GetCostReportRequest, metadata=None):
        self.asked.append((request.period, metadata))
        return reply_for(request.period or "2026-11")


def test_the_operator_route_returns_the_report_and_refuses_without_the_operator_secret():
    billing = FakeBillingStub()
    app = create_app(GatewaySettings(), fake_backends(FakeTenancy(), billing=billing))
    with TestClient(app) as gateway:
        ok = gateway.get("/v1/admin/cost-report?period=2026-11", headers=OPERATOR)
        assert ok.status_code == 200, ok.text
        body = ok.json()
        reply = reply_for()
        assert body["period"] == "2026-11" and body["requests"] == 4
        assert body["total_usd"] == pytest.approx(reply.total_usd)
        assert [(t["tenant_id"], t["tier"]) for t in body["tenants"]] == [("t-a", "pro"), ("t-b", "free")]
        assert body["overall"]["tier"] is None and body["notes"] == list(reply.notes)
        assert billing.asked[0][0] == "2026-11"
        assert gateway.get("/v1/admin/cost-report?period=Nov", headers=OPERATOR).status_code == 422
        assert gateway.get("/v1/admin/cost-report").status_code == 401
        assert len(billing.asked) == 1
