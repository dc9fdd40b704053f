"""Billing against a real Stripe API server (stripe-mock behind the recording proxy), real PostgreSQL,
Kafka, tenancy and the gateway: faults are retried and sent once, a refused tenant is dead-lettered and
replayed once, and Stripe's webhooks suspend and restore a tenant (issue #15)."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from sqlalchemy import select

from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import USAGE, full_name
from services.billing.domain.metering import meter_identifier
from services.billing.storage.stripe_tables import meter_reports
from services.billing.storage.tables import accounts
from tests.integration.conftest import bearer
from tests.integration.stripe_proxy import StripeProxy, sign_webhook, stripe_event
from timbre.v1 import events_pb2

pytestmark = pytest.mark.integration

METER_EVENTS = "/v1/billing/meter_events"
SECRET = "whsec_" + secrets.token_hex(16)


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def proxy(stripe_mock):
    proxy = StripeProxy(stripe_mock).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def stripe_billing(infra, tenancy, proxy):
    """A billing service with every worker (consumers, relay, Stripe reporter), no grace period."""
    from services.billing.config import BillingSettings
    from services.billing.main import build

    settings = BillingSettings(
        grpc_port=0,
        metrics_port=0,
        tenancy_addr=tenancy,
        stripe_api_key="sk_test_billingtests",
        stripe_api_base=proxy.url,
        stripe_webhook_secret=SECRET,
        stripe_max_network_retries=3,
        stripe_poll_seconds=0.2,
        stripe_lease_seconds=2,
        billing_grace_hours=0,
    )
    process = build(settings).start()
    yield f"127.0.0.1:{process.port}"
    process.stop()


@pytest.fixture(scope="module")
def gateway(tenancy, stripe_billing):
    from gateway.app import create_app
    from gateway.config import GatewaySettings

    settings = GatewaySettings(tenancy_addr=tenancy, billing_addr=stripe_billing, watermark_addr="127.0.0.1:1")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _customer(engine, tenant: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(accounts.c.stripe_customer_id).where(accounts.c.tenant_id == tenant)).scalar()


def _usage(infra, tenant: str, characters: int) -> str:
    ref = uuid.uuid4().hex
    envelope = pack(
        events_pb2.UsageRecorded(tenant_id=tenant, generation_ref=ref, characters=characters), tenant_id=tenant
    )
    producer = Producer(client_config(infra.kafka_bootstrap))
    producer.produce(
        full_name(infra.topic_prefix, USAGE.name),
        key=tenant.encode(),
        value=envelope.SerializeToString(),
        headers=headers_for(envelope),
    )
    assert producer.flush(10) == 0
    return meter_identifier(tenant, ref)


def _status(engine, identifier: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(meter_reports.c.status).where(meter_reports.c.identifier == identifier)).scalar()


def test_faults_are_retried_and_sent_once_and_a_refused_tenant_is_replayed_once(
    infra, engine, proxy, stripe_billing, new_tenant, gateway, settings
):
    (a, _, _), (b, _, _), (c, _, _) = new_tenant("pro"), new_tenant("pro"), new_tenant("enterprise")
    customers = {t: _wait(lambda t=t: _customer(engine, t), 60, f"{t}'s Stripe customer") for t in (a, b, c)}
    assert len(set(customers.values())) == 3
    created = proxy.requests("/v1/customers", "POST")
    assert sorted(r.idempotency_key for r in created if r.params.get("metadata[tenant_id]") in (a, b, c)) == sorted(
        f"timbre-customer-{t}" for t in (a, b, c)
    )

    # 500 then 200 (the SDK retries with its Idempotency-Key), then a 429 that the reporter backs off from.
    proxy.fail_next(METER_EVENTS, status=500, times=1)
    first = _usage(infra, a, 120)
    _wait(lambda: _status(engine, first) == "sent", 60, "the first event")
    proxy.fail_next(METER_EVENTS, status=429, times=1, retry_after=1)
    second = _usage(infra, a, 80)
    _wait(lambda: _status(engine, second) == "sent", 60, "the rate-limited event")
    assert proxy.arrivals(first) == 2 and proxy.arrivals(second) == 2
    totals = proxy.meter_totals()
    assert (totals[first], totals[second]) == (120, 80)

    # Stripe refuses C's usage (400): dead-lettered; A's and B's go on.
    proxy.reject_customer(customers[c], status=400, code="resource_missing", message="No such customer")
    refused = _usage(infra, c, 300)
    fine = _usage(infra, b, 40)
    _wait(lambda: _status(engine, refused) == "dead", 60, "the dead letter")
    _wait(lambda: _status(engine, fine) == "sent", 60, "B's event")
    operator = {"Authorization": f"Bearer {settings.operator_secret.get_secret_value()}"}
    letters = gateway.get("/v1/admin/billing/dead-letters?page_size=100", headers=operator).json()["dead_letters"]
    mine = [d for d in letters if d["identifier"] == refused]
    assert mine and mine[0]["http_status"] == 400 and "No such customer" in mine[0]["reason"]
    assert refused not in proxy.meter_totals()

    proxy.clear_customer(customers[c])  # the cause is fixed
    replay = gateway.post("/v1/admin/billing/dead-letters/replay", json={"identifiers": [refused]}, headers=operator)
    assert replay.json() == {"requeued": 1}
    _wait(lambda: _status(engine, refused) == "sent", 60, "the replayed event")
    assert proxy.meter_totals()[refused] == 300
    assert proxy.arrivals(refused) == 2  # refused once, accepted once
    assert not proxy.conflicts()


def _webhook(gateway, kind: str, customer: str, event_id: str | None = None, secret: str = SECRET):
    invoice = {
        "id": f"in_{uuid.uuid4().hex[:14]}",
        "object": "invoice",
        "customer": customer,
        "status": "paid" if kind == "invoice.paid" else "open",
        "amount_due": 9900,
        "amount_paid": 9900 if kind == "invoice.paid" else 0,
        "currency": "usd",
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_test/test",
        "created": int(time.time()),
    }
    body = stripe_event(kind, invoice, event_id)
    return gateway.post("/v1/stripe/webhook", content=body, headers={"Stripe-Signature": sign_webhook(body, secret)})


def test_webhooks_forged_refused_repeated_applied_once_unpaid_suspends_and_paid_restores(
    engine, gateway, new_tenant, stripe_billing
):
    tenant, key, _ = new_tenant("pro")
    customer = _wait(lambda: _customer(engine, tenant), 60, "the Stripe customer")
    me = {"Authorization": f"Bearer {key}"}
    assert gateway.get("/v1/me", headers=me).status_code == 200

    forged = _webhook(gateway, "invoice.payment_failed", customer, secret="whsec_" + secrets.token_hex(16))
    assert forged.status_code == 400 and forged.headers["content-type"].startswith("application/problem+json")
    assert gateway.get("/v1/billing", headers=me).json()["billing_state"] == "active"

    event_id = f"evt_{uuid.uuid4().hex[:20]}"
    failed = _webhook(gateway, "invoice.payment_failed", customer, event_id)
    assert failed.status_code == 200 and failed.json()["applied"] is True
    again = _webhook(gateway, "invoice.payment_failed", customer, event_id)
    assert again.status_code == 200 and again.json()["applied"] is False

    # No grace here: unpaid → suspended at once; tenancy hears it through Kafka and refuses the key.
    refused = _wait(lambda: (r := gateway.get("/v1/me", headers=me)).status_code == 402 and r, 60, "402")
    problem = refused.json()
    assert "suspended" in problem["detail"] and problem.get("reason") == "TENANT_SUSPENDED"

    paid = _webhook(gateway, "invoice.paid", customer)
    assert paid.json()["applied"] is True
    _wait(lambda: gateway.get("/v1/me", headers=me).status_code == 200, 60, "the key to work again")
    view = gateway.get("/v1/billing", headers=me).json()
    assert view["billing_state"] == "active" and view["tier"] == "pro"
    assert sorted(i["status"] for i in view["invoices"]) == ["open", "paid"]  # the failed one, then the paid one
    assert json.dumps(view).count("invoice.stripe.com") >= 1


def test_a_tier_change_moves_the_subscription_with_proration(
    engine, proxy, stripe_billing, new_tenant, tenancy_stub, operator_token
):
    from kit.grpc.convert import TIER_CODES
    from timbre.v1 import tenancy_pb2

    tenant, _, _ = new_tenant("free")
    _wait(lambda: _subscribed(engine, tenant) == "free", 60, "the free subscription")
    tenancy_stub.ChangeTier(
        tenancy_pb2.ChangeTierRequest(tenant_id=tenant, tier=TIER_CODES["pro"]), metadata=bearer(operator_token)
    )
    _wait(lambda: _subscribed(engine, tenant) == "pro", 60, "the subscription to move to pro")
    with engine.connect() as conn:
        subscription = conn.execute(
            select(accounts.c.stripe_subscription_id).where(accounts.c.tenant_id == tenant)
        ).scalar_one()
    (update,) = proxy.requests(f"/v1/subscriptions/{subscription}", "POST")
    assert update.params["proration_behavior"] == "create_prorations"
    assert update.idempotency_key == f"timbre-tier-{tenant}-{subscription}-pro"
    assert update.params["items[0][deleted]"] == "true"  # the free tier's items go, the pro prices come


def _subscribed(engine, tenant: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(accounts.c.subscribed_tier).where(accounts.c.tenant_id == tenant)).scalar()
