"""Billing's verdicts on tenants (TenantBillingStateChanged): record the latest one per tenant.

Runs inside the event consumer's transaction (next to its inbox mark, which absorbs redeliveries of
the same event); `supersedes` drops verdicts older than the recorded one (replays out of order)."""

from __future__ import annotations

from kit.errors import InvalidArgument
from kit.logging import get_logger
from services.tenancy.domain.billing import STATES, BillingVerdict, supersedes
from services.tenancy.service_layer.ports import Transaction

log = get_logger("tenancy_billing")


def apply_verdict(tx: Transaction, verdict: BillingVerdict) -> bool:
    """Record `verdict` unless it is stale or for a tenant unknown here; whether it was recorded."""
    if verdict.state not in STATES:
        raise InvalidArgument(f"unknown billing state {verdict.state!r}")
    tenant = tx.accounts.get_tenant(verdict.tenant_id, for_update=True)
    if tenant is None:
        # Not retried: no later attempt will find it (tenancy creates every tenant billing knows).
        log.warning("billing_verdict_for_unknown_tenant", tenant_id=verdict.tenant_id)
        return False
    if not supersedes(verdict, tenant.billing):
        log.info(
            "billing_verdict_stale",
            tenant_id=verdict.tenant_id,
            state=verdict.state,
            decided_at=verdict.decided_at.isoformat(),
            recorded_since=tenant.billing.since.isoformat() if tenant.billing.since else "",
        )
        return False
    tx.accounts.set_billing(verdict.tenant_id, verdict.standing)
    if verdict.state != tenant.billing.state:
        log.info(
            "billing_state_changed", tenant_id=verdict.tenant_id, state=verdict.state, previous=tenant.billing.state
        )
    return True
