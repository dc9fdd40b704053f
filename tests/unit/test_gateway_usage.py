"""GET /v1/usage and the operator's usage routes: JSON by default, CSV (header row first) with
Accept: text/csv, the query passed through to UsageAnalyticsService, its errors as problem+json."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.errors import InvalidArgument
from tests.fakes.analytics import FakeAnalyticsStub
from tests.fakes.gateway import FakeTenancy, fake_backends
from timbre.v1 import billing_pb2

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
OPERATOR = {"Authorization": "Bearer operator-secret"}


def _row(key: str, requests: int, characters: int, p50: float) -> billing_pb2.UsageRow:
    return billing_pb2.UsageRow(
        key=key,
        requests=requests,
        failures=1,
        characters=characters,
        audio_seconds=characters / 15,
        compute_seconds=requests * 0.5,
        first_chunk=billing_pb2.LatencySummary(p50_seconds=p50, p95_seconds=p50 * 2, p99_seconds=p50 * 3),
        total=billing_pb2.LatencySummary(p50_seconds=p50 * 4, p95_seconds=p50 * 5, p99_seconds=p50 * 6),
    )


ROWS = [_row("2026-11-01", 3, 300, 0.1), _row("2026-11-02", 0, 0, 0.0), _row("2026-11-03", 5, 750, 0.2)]


@pytest.fixture
def analytics() -> FakeAnalyticsStub:
    return FakeAnalyticsStub(
        usage=billing_pb2.QueryUsageResponse(
            tenant_id="t-1",
            from_date="2026-11-01",
            to_date="2026-11-03",
            group_by="day",
            rows=ROWS,
            totals=_row("total", 8, 1050, 0.15),
        ),
        top=billing_pb2.ListTopTenantsResponse(rows=[_row("t-9", 40, 9000, 0.3)]),
        storage=billing_pb2.ListTenantStorageResponse(
            tenants=[billing_pb2.TenantStorage(tenant_id="t-9", bytes=2048, objects=3)], total_bytes=2048
        ),
    )


@pytest.fixture
def gateway(analytics) -> TestClient:
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), analytics=analytics)
    return TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)


def test_json_usage_passes_the_query_through(gateway, analytics):
    answer = gateway.get("/v1/usage?from=2026-11-01&to=2026-11-03&group_by=day", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["from"], body["to"], body["group_by"], body["tenant_id"]) == ("2026-11-01", "2026-11-03", "day", "t-1")
    assert [(r["key"], r["requests"], r["characters"]) for r in body["rows"]] == [
        (r.key, r.requests, r.characters) for r in ROWS
    ]
    assert body["rows"][2]["first_chunk_seconds"] == {"p50": 0.2, "p95": 0.4, "p99": pytest.approx(0.6)}
    assert body["totals"]["characters"] == 1050
    (request,) = analytics.requests
    assert (request.from_date, request.to_date, request.group_by, request.tenant_id, request.all_tenants) == (
        "2026-11-01",
        "2026-11-03",
        "day",
        "",
        False,
    )


def test_csv_usage_has_a_header_and_one_line_per_row(gateway):
    answer = gateway.get("/v1/usage?group_by=day", headers={**AUTH, "Accept": "text/csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0][:4] == ["day", "requests", "failures", "characters"]
    assert "first_chunk_p95_seconds" in lines[0] and "total_p99_seconds" in lines[0]
    assert len(lines) == 1 + len(ROWS)
    third = dict(zip(lines[0], lines[3], strict=True))
    assert (third["day"], int(third["requests"]), int(third["characters"])) == ("2026-11-03", 5, 750)
    assert float(third["audio_seconds"]) == pytest.approx(50.0)
    assert float(third["total_p99_seconds"]) == pytest.approx(1.2)


def test_tenants_cannot_group_by_tenant_and_bad_dates_are_problems(gateway, analytics):
    assert gateway.get("/v1/usage?group_by=tenant", headers=AUTH).status_code == 422
    analytics.error = InvalidArgument("from_date must be a date YYYY-MM-DD", field="from_date")
    answer = gateway.get("/v1/usage?from=yesterday", headers=AUTH)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "INVALID_ARGUMENT"


def test_operator_routes(gateway, analytics):
    assert gateway.get("/v1/admin/usage", headers=AUTH).status_code == 401  # an API key is no operator secret
    every = gateway.get("/v1/admin/usage?group_by=tenant", headers=OPERATOR)
    assert every.status_code == 200
    one = gateway.get("/v1/admin/usage?tenant_id=t-7", headers=OPERATOR)
    assert one.status_code == 200
    assert [(r.tenant_id, r.all_tenants, r.group_by) for r in analytics.requests] == [
        ("", True, "tenant"),
        ("t-7", False, "day"),
    ]
    top = gateway.get("/v1/admin/usage/top-tenants?order_by=requests&limit=5", headers=OPERATOR)
    assert [r["key"] for r in top.json()["rows"]] == ["t-9"]
    assert (analytics.requests[-1].order_by, analytics.requests[-1].limit) == ("requests", 5)
    top_csv = gateway.get("/v1/admin/usage/top-tenants", headers={**OPERATOR, "Accept": "text/csv"})
    assert top_csv.text.splitlines()[0].startswith("tenant_id,requests")
    storage = gateway.get("/v1/admin/storage", headers=OPERATOR)
    assert storage.json() == {"tenants": [{"tenant_id": "t-9", "bytes": 2048, "objects": 3}], "total_bytes": 2048}


def test_usage_takes_a_voice_and_groups_by_month():
    analytics = FakeAnalyticsStub(
        usage=billing_pb2.QueryUsageResponse(
            tenant_id="t-1",
            from_date="2026-01-01",
            to_date="2026-11-30",
            group_by="month",
            voice_id="v-1",
            rows=[billing_pb2.UsageRow(key="2026-11", requests=2, characters=30)],
        )
    )
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), analytics=analytics)
    gateway = TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)
    answer = gateway.get("/v1/usage?group_by=month&voice_id=v-1&from=2026-01-01", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["group_by"], answer.json()["voice_id"], answer.json()["rows"][0]["key"]) == (
        "month",
        "v-1",
        "2026-11",
    )
    (request,) = analytics.requests
    assert (request.group_by, request.voice_id, request.from_date) == ("month", "v-1", "2026-01-01")
    as_csv = gateway.get("/v1/usage?group_by=month", headers={**AUTH, "Accept": "text/csv"})
    assert as_csv.text.startswith("month,requests,")
    assert gateway.get("/v1/usage?group_by=week", headers=AUTH).status_code == 422
