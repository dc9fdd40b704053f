"""Billing: the tenant's billing view, Stripe's webhook, and the operator's dead letters."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.auth import Caller, OperatorCaller, TenantCaller
from gateway.routes.schemas import TIER_NAMES, Tier, when
from timbre.v1 import billing_pb2, common_pb2

router = APIRouter(tags=["billing"])

# Stripe's events are a few kilobytes; anything far larger is not Stripe.
MAX_WEBHOOK_BYTES = 512 * 1024
STATE_NAMES = {
    common_pb2.BILLING_STATE_ACTIVE: "active",
    common_pb2.BILLING_STATE_PAST_DUE: "past_due",
    common_pb2.BILLING_STATE_SUSPENDED: "suspended",
}


class InvoiceOut(BaseModel):
    invoice_id: str
    status: str
    amount_due_usd: float
    amount_paid_usd: float
    currency: str
    hosted_invoice_url: str | None
    created_at: datetime | None


class BillingOut(BaseModel):
    tenant_id: str
    tier: Tier
    period: str = Field(description='"YYYY-MM" (UTC)')
    monthly_price_usd: float
    included_characters: int
    used_characters: int
    overage_characters: int
    overage_usd: float
    estimated_due_usd: float = Field(description="The monthly price plus the metered usage so far")
    reported_characters: int = Field(description="Characters of this period Stripe has accepted so far")
    billing_state: str = Field(description="active | past_due | suspended")
    billing_reason: str
    stripe_customer_id: str
    invoices: list[InvoiceOut]

    @classmethod
    def of(cls, view: billing_pb2.GetBillingViewResponse) -> BillingOut:
        return cls(
            tenant_id=view.tenant_id,
            tier=TIER_NAMES[view.tier],
            period=view.period,
            monthly_price_usd=view.monthly_price_usd,
            included_characters=view.included_characters,
            used_characters=view.used_characters,
            overage_characters=view.overage_characters,
            overage_usd=round(view.overage_usd, 2),
            estimated_due_usd=round(view.estimated_due_usd, 2),
            reported_characters=view.reported_characters,
            billing_state=STATE_NAMES.get(view.billing_state, "active"),
            billing_reason=view.billing_reason,
            stripe_customer_id=view.stripe_customer_id,
            invoices=[
                InvoiceOut(
                    invoice_id=i.invoice_id,
                    status=i.status,
                    amount_due_usd=i.amount_due_cents / 100,
                    amount_paid_usd=i.amount_paid_cents / 100,
                    currency=i.currency,
                    hosted_invoice_url=i.hosted_invoice_url or None,
                    created_at=when(i.create_time),
                )
                for i in view.invoices
            ],
        )


class WebhookOut(BaseModel):
    received: bool = True
    event_id: str
    type: str
    applied: bool = Field(description="False for an event seen before or of a type billing ignores")


class DeadLetterOut(BaseModel):
    identifier: str
    tenant_id: str
    kind: str
    http_status: int
    reason: str
    attempts: int
    created_at: datetime | None


class DeadLettersOut(BaseModel):
    dead_letters: list[DeadLetterOut]
    next_page_token: str


class ReplayIn(BaseModel):
    identifiers: list[str] = Field(default_factory=list, description="Empty: every dead letter")


class ReplayOut(BaseModel):
    requeued: int


@router.get("/v1/billing", response_model=BillingOut, summary="Plan, usage against it, amount due so far, invoices")
def billing_view(request: Request, caller: Caller = TenantCaller) -> BillingOut:
    view = request.app.state.backends.billing.GetBillingView(
        billing_pb2.GetBillingViewRequest(), metadata=caller.metadata
    )
    return BillingOut.of(view)


@router.post(
    "/v1/stripe/webhook",
    response_model=WebhookOut,
    tags=["stripe"],
    responses={413: {"description": f"The body is larger than {MAX_WEBHOOK_BYTES} bytes"}},
    summary="Stripe's webhook endpoint (authenticated by the Stripe-Signature header)",
)
async def stripe_webhook(request: Request) -> WebhookOut:
    signature = request.headers.get("stripe-signature", "")
    if not signature:
        raise HTTPException(400, "missing Stripe-Signature header")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise HTTPException(413, f"webhook bodies are at most {MAX_WEBHOOK_BYTES} bytes")
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise HTTPException(413, f"webhook bodies are at most {MAX_WEBHOOK_BYTES} bytes")
    billing = request.app.state.backends.billing
    # The signature must be checked against the exact bytes Stripe signed: they travel unparsed.
    reply = await run_in_threadpool(
        billing.HandleStripeWebhook, billing_pb2.HandleStripeWebhookRequest(payload=payload, signature=signature)
    )
    return WebhookOut(event_id=reply.event_id, type=reply.type, applied=reply.applied)


@router.get("/v1/admin/billing/dead-letters", response_model=DeadLettersOut, tags=["operator"])
def dead_letters(
    request: Request, page_size: int = Query(20, ge=1, le=100), page_token: str = "", caller: Caller = OperatorCaller
) -> DeadLettersOut:
    """Stripe calls refused for good (4xx), with Stripe's reason; replay them after fixing the cause."""
    reply = request.app.state.backends.billing.ListBillingDeadLetters(
        billing_pb2.ListBillingDeadLettersRequest(
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)
        ),
        metadata=caller.metadata,
    )
    return DeadLettersOut(
        dead_letters=[
            DeadLetterOut(
                identifier=d.identifier,
                tenant_id=d.tenant_id,
                kind=d.kind,
                http_status=d.http_status,
                reason=d.reason,
                attempts=d.attempts,
                created_at=when(d.create_time),
            )
            for d in reply.dead_letters
        ],
        next_page_token=reply.page.next_page_token,
    )


@router.post("/v1/admin/billing/dead-letters/replay", response_model=ReplayOut, tags=["operator"])
def replay_dead_letters(request: Request, body: ReplayIn, caller: Caller = OperatorCaller) -> ReplayOut:
    """Send dead-lettered calls again under their original identifiers (Stripe still bills them once)."""
    reply = request.app.state.backends.billing.ReplayBillingDeadLetters(
        billing_pb2.ReplayBillingDeadLettersRequest(identifiers=body.identifiers), metadata=caller.metadata
    )
    return ReplayOut(requeued=reply.requeued)
