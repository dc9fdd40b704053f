"""stripe-mock and the recording proxy, through the official SDK: the request shapes billing uses are
valid Stripe API calls, and the proxy counts, de-duplicates and fails the way the exactly-once tests need."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, cast

import pytest
import stripe

from tests.integration.stripe_proxy import METER_EVENTS, sign_webhook, stripe_event

EVENT_NAME = "timbre_characters"


def _meter_event(client: stripe.StripeClient, identifier: str, customer: str = "cus_local", value: int = 100, **opts):
    params: Any = {
        "event_name": EVENT_NAME,
        "payload": {"stripe_customer_id": customer, "value": str(value)},
        "identifier": identifier,
        "timestamp": int(time.time()),
    }
    return client.v1.billing.meter_events.create(params, cast(Any, opts) or None)


def _id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


# --- stripe-mock: the shapes billing sends ---------------------------------------------------------------


def test_catalogue_and_subscription_shapes_are_valid(stripe_proxy):
    client = stripe_proxy.client(max_network_retries=0)
    product = client.v1.products.create({"name": "Timbre Pro"})
    meter = client.v1.billing.meters.create(
        {
            "display_name": "Characters",
            "event_name": EVENT_NAME,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        }
    )
    licensed = client.v1.prices.create(
        {
            "currency": "usd",
            "unit_amount": 4900,
            "recurring": {"interval": "month", "usage_type": "licensed"},
            "product": product.id,
            "lookup_key": "timbre_pro_monthly",
        }
    )
    metered = client.v1.prices.create(
        {
            "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "product": product.id,
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [{"up_to": 1_000_000, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.002"}],
        }
    )
    customer = client.v1.customers.create({"name": "tenant", "metadata": {"tenant_id": "t1"}})
    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": licensed.id}, {"price": metered.id}]}
    )
    changed = client.v1.subscriptions.update(
        subscription.id,
        {
            "items": [{"id": "si_old", "deleted": True}, {"price": licensed.id}],
            "proration_behavior": "create_prorations",
        },
    )
    assert (product.object, meter.object, licensed.object, metered.object) == (
        "product",
        "billing.meter",
        "price",
        "price",
    )
    assert customer.id.startswith("cus_") and subscription.id.startswith("sub_") and changed.object == "subscription"
    sub_create = stripe_proxy.requests("/v1/subscriptions", "POST")[0]
    assert sub_create.params["items[0][price]"] == licensed.id and sub_create.params["items[1][price]"] == metered.id
    assert stripe_proxy.requests("/v1/subscriptions/*", "POST")[0].params["proration_behavior"] == "create_prorations"
    assert all(a.outcome == "accepted" for a in stripe_proxy.requests())


def test_stripe_mock_refuses_invalid_shapes(stripe_proxy):
    client = stripe_proxy.client(max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError, match="proration_behavior"):
        client.v1.subscriptions.update("sub_x", {"proration_behavior": "prorate"})
    with pytest.raises(stripe.InvalidRequestError, match="payload"):
        client.v1.billing.meter_events.create(cast(Any, {"event_name": EVENT_NAME}))
    assert [a.outcome for a in stripe_proxy.requests()] == ["invalid", "invalid"]


def test_module_level_sdk_through_the_proxy(stripe_proxy, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", "sk_test_module")
    monkeypatch.setattr(stripe, "api_base", stripe_proxy.url)
    identifier = _id()
    event = stripe.billing.MeterEvent.create(
        event_name=EVENT_NAME, payload={"stripe_customer_id": "cus_mod", "value": "7"}, identifier=identifier
    )
    assert event.identifier == identifier and event.payload["stripe_customer_id"] == "cus_mod"
    assert stripe_proxy.meter_totals() == {identifier: Decimal(7)}


# --- the proxy: what arrived, and Stripe's de-duplication --------------------------------------------------


def test_idempotency_key_replays_the_first_answer(stripe_proxy):
    client = stripe_proxy.client(max_network_retries=0)
    key = f"tenant-{uuid.uuid4()}"
    first = client.v1.customers.create({"name": "a", "metadata": {"tenant_id": "a"}}, {"idempotency_key": key})
    again = client.v1.customers.create({"name": "a", "metadata": {"tenant_id": "a"}}, {"idempotency_key": key})
    assert first.id == again.id
    assert [a.outcome for a in stripe_proxy.requests("/v1/customers")] == ["accepted", "replayed"]
    assert {a.idempotency_key for a in stripe_proxy.requests("/v1/customers")} == {key}
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"name": "b"}, {"idempotency_key": key})


def test_meter_event_is_recorded(stripe_proxy):
    identifier = _id()
    event = _meter_event(stripe_proxy.client(), identifier, "cus_rec", 1234)
    assert (event.identifier, event.payload["value"]) == (identifier, "1234")
    (arrival,) = stripe_proxy.meter_events()
    assert (arrival.identifier, arrival.customer, arrival.value) == (identifier, "cus_rec", Decimal(1234))
    assert arrival.params["event_name"] == EVENT_NAME and arrival.idempotency_key
    assert stripe_proxy.meter_totals() == {identifier: Decimal(1234)}
    assert stripe_proxy.duplicates() == []


def test_same_identifier_twice_counts_once(stripe_proxy):
    client = stripe_proxy.client()
    identifier, other = _id(), _id()
    first = _meter_event(client, identifier, value=5)
    second = _meter_event(client, identifier, value=5)  # a new Idempotency-Key: a real redelivery
    _meter_event(client, other, value=3)
    assert first.identifier == second.identifier == identifier
    assert stripe_proxy.meter_totals() == {identifier: Decimal(5), other: Decimal(3)}
    assert stripe_proxy.meter_totals_by_customer() == {"cus_local": Decimal(8)}
    assert stripe_proxy.arrivals(identifier) == 2 and stripe_proxy.duplicates() == [identifier]
    assert stripe_proxy.conflicts() == []
    _meter_event(client, identifier, value=6)
    assert stripe_proxy.conflicts() == [identifier]


def test_duplicate_identifier_as_an_error(stripe_proxy):
    stripe_proxy.duplicate_identifier = "error"
    client = stripe_proxy.client()
    identifier = _id()
    _meter_event(client, identifier)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _meter_event(client, identifier)
    assert caught.value.code == "duplicate_meter_event"
    assert stripe_proxy.meter_totals() == {identifier: Decimal(100)}


def test_500_then_200_is_retried_by_the_sdk_and_counted_once(stripe_proxy):
    stripe_proxy.fail_next(METER_EVENTS, status=500, times=1)
    identifier = _id()
    _meter_event(stripe_proxy.client(max_network_retries=2), identifier)
    outcomes = [(a.outcome, a.status) for a in stripe_proxy.meter_events()]
    assert outcomes == [("fault", 500), ("accepted", 200)]
    keys = {a.idempotency_key for a in stripe_proxy.meter_events()}
    assert len(keys) == 1  # the SDK retries with the same key
    assert stripe_proxy.meter_totals() == {identifier: Decimal(100)} and stripe_proxy.duplicates() == []


def test_500_without_retries_surfaces_as_api_error(stripe_proxy):
    stripe_proxy.fail_next(METER_EVENTS, status=500)
    with pytest.raises(stripe.APIError):
        _meter_event(stripe_proxy.client(max_network_retries=0), _id())
    assert stripe_proxy.meter_totals() == {}


def test_stripe_client_default_does_not_retry(stripe_proxy):
    import stripe as sdk

    stripe_proxy.fail_next(METER_EVENTS, status=503)
    client = sdk.StripeClient("sk_test_default", base_addresses={"api": stripe_proxy.url})
    with pytest.raises(stripe.APIError):
        _meter_event(client, _id())
    assert len(stripe_proxy.meter_events()) == 1


def test_429_is_not_retried_by_the_sdk(stripe_proxy):
    stripe_proxy.fail_next(METER_EVENTS, status=429, retry_after=1)
    with pytest.raises(stripe.RateLimitError) as caught:
        _meter_event(stripe_proxy.client(max_network_retries=2), _id())
    assert caught.value.http_status == 429 and (caught.value.headers or {}).get("Retry-After") == "1"
    assert len(stripe_proxy.meter_events()) == 1 and stripe_proxy.meter_totals() == {}


def test_429_with_should_retry_is_retried(stripe_proxy):
    stripe_proxy.fail_next(METER_EVENTS, status=429, should_retry=True)
    identifier = _id()
    _meter_event(stripe_proxy.client(max_network_retries=2), identifier)
    assert [a.status for a in stripe_proxy.meter_events()] == [429, 200]
    assert list(stripe_proxy.meter_totals()) == [identifier]


def test_rejected_customer_gets_400_until_cleared(stripe_proxy):
    client = stripe_proxy.client()
    stripe_proxy.reject_customer("cus_gone")
    identifier = _id()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _meter_event(client, identifier, "cus_gone", idempotency_key=f"k-{identifier}")
    assert caught.value.code == "resource_missing" and "cus_gone" in str(caught.value)
    _meter_event(client, _id(), "cus_fine")  # other customers unaffected
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve("cus_gone")
    stripe_proxy.clear_customer("cus_gone")
    # Not saved under its key (refused before executing): the same key works after the fix.
    _meter_event(client, identifier, "cus_gone", idempotency_key=f"k-{identifier}")
    assert stripe_proxy.meter_totals_by_customer() == {"cus_fine": Decimal(100), "cus_gone": Decimal(100)}
    assert [a.outcome for a in stripe_proxy.meter_events()] == ["rejected", "accepted", "accepted"]


def test_500_after_processing_is_replayed_for_the_same_key(stripe_proxy):
    """As at Stripe: a 500 raised while executing is saved and replayed, so only a new send (new key, same
    identifier) gets through, and Stripe de-duplicates it by identifier."""
    stripe_proxy.fail_next(METER_EVENTS, status=500, after_processing=True)
    identifier = _id()
    with pytest.raises(stripe.APIError):
        _meter_event(stripe_proxy.client(max_network_retries=1), identifier)
    assert [(a.outcome, a.status) for a in stripe_proxy.meter_events()] == [("accepted", 500), ("replayed", 500)]
    event = _meter_event(stripe_proxy.client(), identifier)
    assert event.identifier == identifier
    assert stripe_proxy.meter_totals() == {identifier: Decimal(100)} and stripe_proxy.duplicates() == [identifier]


def test_lost_answer_is_replayed_on_the_sdk_retry(stripe_proxy):
    stripe_proxy.drop_next(METER_EVENTS)
    identifier = _id()
    event = _meter_event(stripe_proxy.client(max_network_retries=2), identifier)
    assert event.identifier == identifier
    assert [(a.outcome, a.status) for a in stripe_proxy.meter_events()] == [("accepted", 0), ("replayed", 200)]
    assert stripe_proxy.meter_totals() == {identifier: Decimal(100)} and stripe_proxy.duplicates() == []


def test_timeout_then_retry_reaches_stripe_once(stripe_proxy):
    stripe_proxy.delay_next(METER_EVENTS, seconds=1.5)
    identifier = _id()
    client = stripe_proxy.client(max_network_retries=4, http_client=stripe.RequestsClient(timeout=0.5))
    event = _meter_event(client, identifier)
    assert event.identifier == identifier
    outcomes = [a.outcome for a in stripe_proxy.meter_events()]
    # The first request is processed after the client gave up; retries meanwhile hit the running key (409)
    # and then the saved answer.
    assert outcomes.count("accepted") == 1 and outcomes[-1] == "replayed", outcomes
    assert stripe_proxy.meter_totals() == {identifier: Decimal(100)} and stripe_proxy.duplicates() == []


def test_concurrent_meter_events(stripe_proxy):
    client = stripe_proxy.client()
    identifiers = [_id() for _ in range(200)]
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: _meter_event(client, i, value=2), identifiers + identifiers[:50]))
    elapsed = time.monotonic() - started
    assert stripe_proxy.meter_totals() == dict.fromkeys(identifiers, Decimal(2))
    assert sorted(stripe_proxy.duplicates()) == sorted(identifiers[:50])
    assert elapsed < 30, f"250 meter events took {elapsed:.1f}s"


# --- webhooks (local: the SDK verifies signatures itself) ---------------------------------------------------


def test_signed_webhook_is_accepted_and_forged_one_refused():
    secret = "whsec_" + uuid.uuid4().hex
    payload = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice", "customer": "cus_1"}, "evt_1")
    event = stripe.Webhook.construct_event(payload, sign_webhook(payload, secret), secret)
    assert (event.id, event.type, event.data.object["customer"]) == ("evt_1", "invoice.paid", "cus_1")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_webhook(payload, "whsec_other"), secret)
    tampered = payload.replace(b"cus_1", b"cus_2")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, sign_webhook(payload, secret), secret)
    stale = sign_webhook(payload, secret, timestamp=int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, stale, secret)  # default tolerance: 300 s
    assert json.loads(payload)["type"] == "invoice.paid"
