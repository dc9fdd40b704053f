"""Usage aggregation. Event handlers call these inside the consumer's transaction, whose inbox mark makes
a redelivered event a no-op; so each one changes the ledger and nothing else."""

from __future__ import annotations

from services.billing.domain.usage import Account, Usage
from services.billing.service_layer.ports import Ledger


def open_account(ledger: Ledger, account: Account) -> None:
    """A new tenant (or a renamed or re-tiered one: the latest wins)."""
    ledger.upsert_account(account)


def record_usage(ledger: Ledger, usage: Usage) -> None:
    usage.validate()
    ledger.add_usage(usage)
    ledger.add_compute(usage)
