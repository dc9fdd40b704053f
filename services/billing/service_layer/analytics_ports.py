"""What the analytics use cases call outside themselves. Adapters: `services.billing.storage.analytics`
(PostgreSQL) and kit.storage's object stores; fakes: tests/fakes/analytics.py."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import date
from typing import Protocol

from services.billing.domain.analytics import Rollup


class Rollups(Protocol):
    """Usage roll-ups, within one transaction."""

    def add(self, contribution: Rollup) -> None:
        """Merge one request's contribution into the stored roll-up of its key (created if new)."""
        ...

    def between(
        self, first: date, last: date, tenant_ids: list[str] | None = None, voice_id: str | None = None
    ) -> list[Rollup]:
        """Roll-ups of days first..last (inclusive): of the given tenants, or of every tenant when None;
        of one voice only when `voice_id` is given."""
        ...

    def top_tenants(self, first: date, last: date, order_by: str, limit: int) -> list[str]:
        """The tenants with the largest `order_by` sum over the days, largest first (ties by tenant id)."""
        ...


class AnalyticsUnitOfWork(Protocol):
    def read(self) -> AbstractContextManager[Rollups]: ...


class ObjectSizes(Protocol):
    """Object storage as analytics sees it (kit.storage.ObjectStore fits)."""

    def list_sizes(self, prefix: str) -> Iterable[tuple[str, int]]: ...
