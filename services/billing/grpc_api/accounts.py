"""BillingService's account RPCs (billing view, Stripe webhooks, dead letters): translate and delegate.
Mixed into `BillingServicer`, which sets `self.accounts`."""

from __future__ import annotations

from kit.contract_codes import TIER_CODES
from kit.grpc.auth import current_principal
from kit.grpc.convert import page_request, page_response, ts
from services.billing.service_layer.accounts import BillingAccounts
from services.billing.service_layer.stripe_billing import STATE_CODES
from timbre.v1 import billing_pb2, common_pb2

# Stripe's webhook carries no Timbre credential: its signature, checked by billing, is the credential.
PUBLIC_METHODS = ["/timbre.v1.BillingService/HandleStripeWebhook"]


class BillingAccountRpcs:
    accounts: BillingAccounts

    def GetBillingView(self, request, context):
        view = self.accounts.view(current_principal().tenant_scope(request.tenant_id))
        return billing_pb2.GetBillingViewResponse(
            tenant_id=view.tenant_id,
            tier=TIER_CODES.get(view.tier, common_pb2.TIER_UNSPECIFIED),
            period=view.period,
            included_characters=view.plan.included_characters,
            used_characters=view.used_characters,
            overage_characters=view.overage_characters,
            monthly_price_usd=view.plan.monthly_usd,
            overage_usd=view.overage_usd,
            estimated_due_usd=view.estimated_due_usd,
            billing_state=STATE_CODES[view.standing.state],
            billing_reason=view.standing.reason,
            stripe_customer_id=view.customer_id,
            stripe_subscription_id=view.subscription_id,
            invoices=[
                billing_pb2.Invoice(
                    invoice_id=invoice.invoice_id,
                    status=invoice.status,
                    amount_due_cents=invoice.amount_due_cents,
                    amount_paid_cents=invoice.amount_paid_cents,
                    currency=invoice.currency,
                    hosted_invoice_url=invoice.hosted_invoice_url,
                    create_time=ts(invoice.created_at),
                )
                for invoice in view.invoices
            ],
            reported_characters=view.reported_characters,
        )

    def HandleStripeWebhook(self, request, context):
        outcome = self.accounts.webhook(request.payload, request.signature)
        return billing_pb2.HandleStripeWebhookResponse(
            event_id=outcome.event_id, type=outcome.type, applied=outcome.applied
        )

    def ListBillingDeadLetters(self, request, context):
        current_principal().require_operator()
        page = self.accounts.dead_letters(page_request(request.page))
        return billing_pb2.ListBillingDeadLettersResponse(
            dead_letters=[
                billing_pb2.BillingDeadLetter(
                    identifier=letter.identifier,
                    tenant_id=letter.tenant_id,
                    kind=letter.kind,
                    http_status=letter.http_status,
                    reason=letter.reason,
                    create_time=ts(letter.created_at),
                    attempts=letter.attempts,
                )
                for letter in page.items
            ],
            page=page_response(page),
        )

    def ReplayBillingDeadLetters(self, request, context):
        current_principal().require_operator()
        return billing_pb2.ReplayBillingDeadLettersResponse(requeued=self.accounts.replay(list(request.identifiers)))
