"""The gateway's billing routes: the tenant's billing view as JSON, Stripe's webhook passed to billing as
the exact bytes it signed (signature header required, size capped, a forged one → 400 problem+json)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.errors import InvalidArgument
from tests.fakes.gateway import FakeRpcError, FakeTenancy, fake_backends
from timbre.v1 import billing_pb2, common_pb2

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class FakeBillingStub:
    view: billing_pb2.GetBillingViewResponse = field(default_factory=billing_pb2.GetBillingViewResponse)
    webhooks: list = field(default_factory=list)

    def GetBillingView(self, request, metadata=None):
        return self.view

    def HandleStripeWebhook(self, request, metadata=None):
        self.webhooks.append(request)
        if request.signature != "t=1,v1=good":
            raise FakeRpcError(InvalidArgument("the Stripe signature does not match"))
        return billing_pb2.HandleStripeWebhookResponse(event_id="evt_1", type="invoice.paid", applied=True)


@pytest.fixture
def billing() -> FakeBillingStub:
    return FakeBillingStub(
        view=billing_pb2.GetBillingViewResponse(
            tenant_id="t-1",
            tier=common_pb2.TIER_PRO,
            period="2026-11",
            included_characters=500_000,
            used_characters=520_000,
            overage_characters=20_000,
            monthly_price_usd=99.0,
            overage_usd=4.0,
            estimated_due_usd=103.0,
            billing_state=common_pb2.BILLING_STATE_PAST_DUE,
            billing_reason="payment of invoice in_1 failed",
            invoices=[
                billing_pb2.Invoice(
                    invoice_id="in_1", status="open", amount_due_cents=9900, hosted_invoice_url="https://x"
                )
            ],
        )
    )


@pytest.fixture
def gateway(billing) -> TestClient:
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), billing=billing)
    return TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)


def test_the_billing_view(gateway):
    answer = gateway.get("/v1/billing", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["tier"], body["billing_state"], body["estimated_due_usd"]) == ("pro", "past_due", 103.0)
    assert body["invoices"][0] == {
        "invoice_id": "in_1",
        "status": "open",
        "amount_due_usd": 99.0,
        "amount_paid_usd": 0.0,
        "currency": "",
        "hosted_invoice_url": "https://x",
        "created_at": None,
    }
    assert gateway.get("/v1/billing").status_code == 401


def test_the_webhook_reaches_billing_as_the_exact_bytes_stripe_signed(gateway, billing):
    raw = b'{"id": "evt_1",  "type": "invoice.paid"}\n'  # odd spacing: re-serialising would break the signature
    answer = gateway.post(
        "/v1/stripe/webhook",
        content=raw,
        headers={"Stripe-Signature": "t=1,v1=good", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200 and answer.json()["applied"] is True
    assert billing.webhooks[-1].payload == raw


def test_a_forged_or_unsigned_or_huge_webhook_is_refused(gateway, billing):
    forged = gateway.post("/v1/stripe/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=forged"})
    assert forged.status_code == 400
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert gateway.post("/v1/stripe/webhook", content=b"{}").status_code == 400
    huge = gateway.post("/v1/stripe/webhook", content=b"x" * 600_000, headers={"Stripe-Signature": "t=1,v1=good"})
    assert huge.status_code == 413
    assert len(billing.webhooks) == 1  # only the forged one reached billing
