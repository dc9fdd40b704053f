"""Stripe through the official SDK (`stripe.StripeClient`): the catalog, customers, subscriptions,
meter events and webhook verification. Every Stripe answer becomes a verdict the ledger records:
sent, retry later (429, 5xx, timeouts — after the SDK's own retries), or dead (any other 4xx)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import stripe

from kit.errors import InvalidArgument
from services.billing.domain.metering import MeterEvent, StripeAnswer, Verdict
from services.billing.domain.plans import Plan
from services.billing.service_layer.stripe_ports import PlanPrices, StripeCallFailed, StripeEvent, Subscription

# Stripe's answer to a meter event whose identifier it already has: the usage is billed already.
DUPLICATE_CODES = {"resource_already_exists", "meter_event_identifier_already_exists", "duplicate_meter_event"}


def answer_of(error: stripe.StripeError) -> StripeAnswer:
    status = error.http_status or 0
    code = error.code or ""
    detail = json.dumps({"status": status, "code": code, "message": error.user_message or str(error)})[:2000]
    if isinstance(error, stripe.RateLimitError) or status == 429:
        retry_after = None
        if error.headers and error.headers.get("Retry-After"):
            try:
                retry_after = float(error.headers["Retry-After"])
            except ValueError:
                retry_after = None
        return StripeAnswer(Verdict.RETRY, status or 429, detail, retry_after)
    if isinstance(error, stripe.APIConnectionError) or status >= 500 or status in (0, 409):
        return StripeAnswer(Verdict.RETRY, status, detail)
    if code in DUPLICATE_CODES or ("identifier" in str(error).lower() and "already" in str(error).lower()):
        return StripeAnswer(Verdict.SENT, status, detail)
    if status in (401, 403):
        # A wrong or under-privileged key is the deployment's fault, not this event's: keep it pending.
        return StripeAnswer(Verdict.RETRY, status, detail)
    return StripeAnswer(Verdict.DEAD, status, detail)


def cents_per_character(usd_per_1k: float) -> str:
    return f"{usd_per_1k / 10:.12f}".rstrip("0").rstrip(".") or "0"


class SdkStripeApi:
    def __init__(
        self,
        api_key: str,
        api_base: str = "",
        webhook_secret: str = "",
        max_network_retries: int = 4,
        timeout_seconds: float = 20.0,
    ) -> None:
        http_client = stripe.new_default_http_client(timeout=timeout_seconds)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=http_client,
        )
        self.webhook_secret = webhook_secret

    def _call(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except stripe.StripeError as error:
            raise StripeCallFailed(answer_of(error)) from error

    # --- catalog ---------------------------------------------------------------------------------

    def create_meter(self, event_name: str, idempotency_key: str) -> str:
        meter = self._call(
            self.client.v1.billing.meters.create,
            params={
                "display_name": "Timbre characters",
                "event_name": event_name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                "value_settings": {"event_payload_key": "value"},
            },
            options={"idempotency_key": idempotency_key},
        )
        return meter.id

    def create_plan_prices(self, plan: Plan, meter_id: str, idempotency_key: str) -> PlanPrices:
        product = {"name": f"Timbre {plan.tier}"}
        metadata = {"tier": plan.tier, "included_characters": str(plan.included_characters)}
        monthly = self._call(
            self.client.v1.prices.create,
            params={
                "currency": "usd",
                "unit_amount": round(plan.monthly_usd * 100),
                "recurring": {"interval": "month", "usage_type": "licensed"},
                "product_data": product,
                "metadata": metadata,
                "nickname": f"{plan.tier} monthly",
            },
            options={"idempotency_key": f"{idempotency_key}-monthly"},
        )
        per_character = cents_per_character(plan.overage_usd_per_1k)
        metered_params: dict[str, Any] = {
            "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
            "product_data": {"name": f"Timbre {plan.tier} characters"},
            "metadata": metadata,
            "nickname": f"{plan.tier} characters beyond {plan.included_characters}",
        }
        if plan.included_characters > 0:
            # Graduated: the included characters at zero, then the overage price per character.
            metered_params |= {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [
                    {"up_to": plan.included_characters, "unit_amount": 0},
                    {"up_to": "inf", "unit_amount_decimal": per_character},
                ],
            }
        else:
            metered_params["unit_amount_decimal"] = per_character
        metered = self._call(
            self.client.v1.prices.create,
            params=metered_params,
            options={"idempotency_key": f"{idempotency_key}-metered"},
        )
        return PlanPrices(monthly.id, metered.id)

    # --- customers and subscriptions -------------------------------------------------------------

    def create_customer(self, tenant_id: str, name: str, idempotency_key: str) -> str:
        customer = self._call(
            self.client.v1.customers.create,
            params={"name": name, "metadata": {"tenant_id": tenant_id}},
            options={"idempotency_key": idempotency_key},
        )
        return customer.id

    def create_subscription(
        self, customer_id: str, tenant_id: str, prices: PlanPrices, idempotency_key: str
    ) -> Subscription:
        subscription = self._call(
            self.client.v1.subscriptions.create,
            params={
                "customer": customer_id,
                "items": [{"price": prices.monthly_price_id}, {"price": prices.metered_price_id}],
                "metadata": {"tenant_id": tenant_id},
                "collection_method": "charge_automatically",
            },
            options={"idempotency_key": idempotency_key},
        )
        return Subscription(subscription.id, tuple(item.id for item in subscription["items"].data))

    def change_subscription(self, subscription: Subscription, prices: PlanPrices, idempotency_key: str) -> Subscription:
        items: list[dict[str, Any]] = [{"id": item_id, "deleted": True} for item_id in subscription.item_ids]
        items += [{"price": prices.monthly_price_id}, {"price": prices.metered_price_id}]
        changed = self._call(
            self.client.v1.subscriptions.update,
            subscription.subscription_id,
            params={"items": items, "proration_behavior": "create_prorations"},
            options={"idempotency_key": idempotency_key},
        )
        return Subscription(changed.id, tuple(item.id for item in changed["items"].data))

    # --- usage -----------------------------------------------------------------------------------

    def send_meter_event(self, event_name: str, event: MeterEvent, customer_id: str) -> StripeAnswer:
        try:
            sent = self.client.v1.billing.meter_events.create(
                params={
                    "event_name": event_name,
                    "identifier": event.identifier,
                    "timestamp": int(event.occurred_at.timestamp()),
                    "payload": {"stripe_customer_id": customer_id, "value": str(event.value)},
                },
            )
        except stripe.StripeError as error:
            return answer_of(error)
        return StripeAnswer(Verdict.SENT, 200, json.dumps({"identifier": sent.identifier}))

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, signature: str) -> StripeEvent:
        if not self.webhook_secret:
            raise InvalidArgument("Stripe webhooks are not configured (TIMBRE_STRIPE_WEBHOOK_SECRET)")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError as error:
            raise InvalidArgument("the Stripe signature does not match", reason="INVALID_ARGUMENT") from error
        except ValueError as error:
            raise InvalidArgument("the webhook payload is not a Stripe event") from error
        data = event.data.object.to_dict() if hasattr(event.data.object, "to_dict") else dict(event.data.object)
        customer = data.get("customer") or (data.get("id") if data.get("object") == "customer" else "")
        return StripeEvent(
            event_id=event.id,
            type=event.type,
            created=datetime.fromtimestamp(event.created, UTC),
            customer_id=customer if isinstance(customer, str) else "",
            tenant_id=_tenant_of(data),
            data=data,
        )


def _tenant_of(data: dict[str, Any]) -> str:
    for holder in (
        data,
        data.get("subscription_details") or {},
        (data.get("parent") or {}).get("subscription_details") or {},
    ):
        metadata = holder.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get("tenant_id"):
            return str(metadata["tenant_id"])
    return ""
