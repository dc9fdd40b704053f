"""What billing's use cases call outside themselves. Adapters: `services.billing.storage`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from services.billing.domain.usage import Account, PeriodUsage, Usage


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


class UnitOfWork(Protocol):
    def read(self) -> AbstractContextManager[Ledger]: ...
