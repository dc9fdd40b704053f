"""Stripe's webhooks: verified, applied once per Stripe event id, and turned into the tenant's standing.

invoice.paid → active (restored when it was suspended); invoice.payment_failed → past due, suspended
once the grace period has passed (at once with no grace); customer.subscription.deleted → suspended.
Invoices are kept for the tenant's billing view. Other event types are acknowledged and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kit.clock import Clock
from kit.logging import get_logger
from services.billing import stripe_metrics as metrics
from services.billing.domain.billing_state import Invoice
from services.billing.service_layer.stripe_billing import change_standing
from services.billing.service_layer.stripe_ports import StripeApi, StripeEvent, StripeUnitOfWork

log = get_logger("billing.webhooks")

HANDLED = ("invoice.paid", "invoice.payment_failed", "customer.subscription.deleted")
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_failed", "invoice.finalized", "invoice.created")


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    type: str
    applied: bool


def invoice_of(event: StripeEvent, tenant_id: str) -> Invoice:
    data = event.data
    created = data.get("created")
    return Invoice(
        invoice_id=str(data.get("id", "")),
        tenant_id=tenant_id,
        status=str(data.get("status") or ""),
        amount_due_cents=int(data.get("amount_due") or 0),
        amount_paid_cents=int(data.get("amount_paid") or 0),
        currency=str(data.get("currency") or "usd"),
        hosted_invoice_url=str(data.get("hosted_invoice_url") or ""),
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else event.created,
    )


def handle_webhook(
    uow: StripeUnitOfWork, api: StripeApi, clock: Clock, grace: timedelta, payload: bytes, signature: str
) -> WebhookOutcome:
    event = api.verify_webhook(payload, signature)  # InvalidArgument (→ 400) when forged
    with uow.begin() as work:
        account = work.ledger.account_by_customer(event.customer_id) if event.customer_id else None
        if account is None and event.tenant_id:
            account = work.ledger.account(event.tenant_id)
        if not work.ledger.first_time(event, account.tenant_id if account else None):
            metrics.WEBHOOKS.labels(event.type, "duplicate").inc()
            return WebhookOutcome(event.event_id, event.type, False)
        if account is None or (event.type not in HANDLED and event.type not in INVOICE_EVENTS):
            metrics.WEBHOOKS.labels(event.type, "ignored").inc()
            log.info("stripe event ignored", event_id=event.event_id, type=event.type, known=account is not None)
            return WebhookOutcome(event.event_id, event.type, False)
        if event.type in INVOICE_EVENTS:
            work.ledger.save_invoice(invoice_of(event, account.tenant_id))
        standing = account.standing
        if event.type == "invoice.paid":
            standing = standing.invoice_paid()
        elif event.type == "invoice.payment_failed":
            standing = standing.payment_failed(clock.now(), str(event.data.get("id", ""))).after_grace(
                clock.now(), grace
            )
        elif event.type == "customer.subscription.deleted":
            standing = standing.subscription_cancelled()
        if standing != account.standing:
            change_standing(work, account.tenant_id, standing, event.event_id)
    metrics.WEBHOOKS.labels(event.type, "applied").inc()
    return WebhookOutcome(event.event_id, event.type, True)
