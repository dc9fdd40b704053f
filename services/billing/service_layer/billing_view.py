"""The tenant's billing view: plan, usage against it, the estimated amount due, standing, invoices."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.clock import Clock
from kit.errors import NotFound
from kit.periods import period_bounds, period_of
from services.billing.domain.billing_state import Invoice, Standing
from services.billing.domain.plans import Plan, plan_for
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.stripe_ports import StripeUnitOfWork

INVOICES_SHOWN = 12


@dataclass(frozen=True)
class BillingView:
    tenant_id: str
    tier: str
    period: str
    plan: Plan
    used_characters: int
    reported_characters: int
    standing: Standing
    customer_id: str = ""
    subscription_id: str = ""
    invoices: list[Invoice] = field(default_factory=list)

    @property
    def overage_characters(self) -> int:
        return self.plan.overage_characters(self.used_characters)

    @property
    def overage_usd(self) -> float:
        return self.plan.overage_usd(self.used_characters)

    @property
    def estimated_due_usd(self) -> float:
        return self.plan.amount_usd(self.used_characters)


def billing_view(
    usage_uow: UnitOfWork, stripe_uow: StripeUnitOfWork, plans: dict[str, Plan], clock: Clock, tenant_id: str
) -> BillingView:
    now = clock.now()
    period = period_of(now)
    start, end = period_bounds(period)
    with stripe_uow.read() as work:
        account = work.ledger.account(tenant_id)
        if account is None:
            raise NotFound("tenant not found")
        reported = work.ledger.reported_characters(tenant_id, start, end)
        invoices = work.ledger.invoices(tenant_id, INVOICES_SHOWN)
    with usage_uow.read() as ledger:
        usage = ledger.usage(tenant_id, period)
    return BillingView(
        tenant_id=tenant_id,
        tier=account.tier,
        period=period,
        plan=plan_for(plans, account.tier),
        used_characters=usage.totals.characters if usage else 0,
        reported_characters=reported,
        standing=account.standing,
        customer_id=account.customer_id or "",
        subscription_id=account.subscription_id or "",
        invoices=invoices,
    )
