"""The gateway's side of billing standing: a suspended tenant's key answers 402 problem+json (and works
again on the next request once restored), and the operator's tier change route."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from starlette.requests import Request

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.problems import from_rpc_error
from kit.errors import FailedPrecondition, NotFound
from tests.fakes.gateway import FakeRpcError, FakeTenancy, fake_backends
from timbre.v1 import common_pb2, tenancy_pb2

KEY = "tmb_acme_secret"
TENANT = "11111111-1111-1111-1111-111111111111"
OPERATOR = {"Authorization": "Bearer operator-secret"}


@dataclass
class BillingTenancy(FakeTenancy):
    """Tenancy's answers as the real one gives them: suspended tenants' keys are refused with the reason."""

    suspended: dict[str, str] = field(default_factory=dict)  # tenant id → billing's reason
    tiers: dict[str, int] = field(default_factory=dict)
    changes: list[tenancy_pb2.ChangeTierRequest] = field(default_factory=list)

    def IssueToken(self, request, metadata=None):
        if request.api_key in self.api_keys:
            tenant_id, _ = self.api_keys[request.api_key]
            if tenant_id in self.suspended:
                self.issued.append(request)
                raise FakeRpcError(
                    FailedPrecondition(
                        f"the tenant is suspended: {self.suspended[tenant_id]}; pay the open invoice to restore access",
                        reason="TENANT_SUSPENDED",
                        billing_state="suspended",
                    )
                )
        return super().IssueToken(request, metadata)

    def ChangeTier(self, request, metadata=None):
        self.changes.append(request)
        if request.tenant_id not in self.tiers:
            raise FakeRpcError(NotFound("tenant not found"))
        self.tiers[request.tenant_id] = request.tier
        return tenancy_pb2.ChangeTierResponse(
            tenant=tenancy_pb2.Tenant(
                tenant_id=request.tenant_id,
                name="Acme",
                tier=request.tier,
                billing_state=common_pb2.BILLING_STATE_PAST_DUE,
                billing_reason="invoice in_1 payment failed",
            )
        )


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "query_string": b""})


def _gateway(tenancy: BillingTenancy) -> TestClient:
    return TestClient(
        create_app(GatewaySettings(), backends=fake_backends(tenancy=tenancy)), raise_server_exceptions=False
    )


def test_a_suspended_tenants_key_answers_402_until_restored():
    tenancy = BillingTenancy(api_keys={KEY: (TENANT, "k-1")}, suspended={TENANT: "invoice in_1 unpaid"})
    gateway = _gateway(tenancy)
    headers = {"Authorization": f"Bearer {KEY}"}

    refused = gateway.get("/v1/api-keys", headers=headers)
    assert refused.status_code == 402
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert (body["status"], body["title"], body["reason"], body["type"]) == (
        402,
        "Payment Required",
        "TENANT_SUSPENDED",
        "https://timbre.dev/problems/tenant-suspended",
    )
    assert body["detail"] == "the tenant is suspended: invoice in_1 unpaid; pay the open invoice to restore access"
    assert body["metadata"] == {"billing_state": "suspended"}

    del tenancy.suspended[TENANT]  # billing restored the tenant: tenancy is asked again on the next request
    assert gateway.get("/v1/api-keys", headers=headers).status_code == 200
    assert len(tenancy.issued) == 2


def test_other_failed_preconditions_stay_409():
    response = from_rpc_error(_request(), FakeRpcError(FailedPrecondition("expired", reason="RESERVATION_EXPIRED")))
    assert response.status_code == 409


def test_an_operator_changes_a_tenants_tier():
    tenancy = BillingTenancy(api_keys={KEY: (TENANT, "k-1")}, tiers={TENANT: common_pb2.TIER_FREE})
    gateway = _gateway(tenancy)

    changed = gateway.patch(f"/v1/tenants/{TENANT}", json={"tier": "pro"}, headers=OPERATOR)
    assert changed.status_code == 200
    assert changed.json() | {"created_at": None} == {
        "id": TENANT,
        "name": "Acme",
        "tier": "pro",
        "created_at": None,
        "billing_state": "past_due",
        "billing_reason": "invoice in_1 payment failed",
    }
    assert tenancy.tiers[TENANT] == common_pb2.TIER_PRO

    assert gateway.patch(f"/v1/tenants/{TENANT}", json={"tier": "gold"}, headers=OPERATOR).status_code == 422
    assert gateway.patch(f"/v1/tenants/{TENANT}", json={"tier": "pro", "x": 1}, headers=OPERATOR).status_code == 422
    missing = gateway.patch("/v1/tenants/nobody", json={"tier": "pro"}, headers=OPERATOR)
    assert missing.status_code == 404 and missing.json()["reason"] == "NOT_FOUND"
    # A tenant's API key is not the operator secret.
    tenant_try = gateway.patch(
        f"/v1/tenants/{TENANT}", json={"tier": "enterprise"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert tenant_try.status_code == 401
    assert [c.tier for c in tenancy.changes] == [common_pb2.TIER_PRO, common_pb2.TIER_PRO]
