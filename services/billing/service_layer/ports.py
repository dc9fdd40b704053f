"""What billing's use cases call outside themselves. Adapters: `services.billing.storage`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from services.billing.domain.usage import Account, ComputeTotals, PeriodUsage, Usage


class Ledger(Protocol):
    """Accounts and usage totals, within one transaction."""

    def upsert_account(self, account: Account) -> None: ...

    def add_usage(self, usage: Usage) -> None:
        """Add one generation's amounts to its tenant's totals for its period."""
        ...

    def usage(self, tenant_id: str, period: str) -> PeriodUsage | None: ...

    def period_generations(self, period: str) -> int:
        """Generations of every tenant in the period."""
        ...

    def add_compute(self, usage: Usage) -> None:
        """Add one generation's measured work to its tenant's totals for its period and worker class."""
        ...

    def compute_totals(self, period: str) -> list[ComputeTotals]:
        """Every tenant's totals per worker class in the period."""
        ...

    def known_accounts(self, created_before: datetime | None = None) -> list[Account]:
        """The tenants billing knows (those created before the moment), with their current tiers."""
        ...


class UnitOfWork(Protocol):
    def read(self) -> AbstractContextManager[Ledger]: ...
