"""Billing's ledger in memory, and an inbox that delivers events to handlers the way the idempotent
consumer (kit.events.consumer.EventConsumer.apply) does: once per event id, the mark kept only when
the handler succeeded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kit.events.envelope import Event
from services.billing.domain.usage import Account, ComputeTotals, PeriodUsage, Usage, UsageTotals


class FakeLedger:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.totals: dict[tuple[str, str], PeriodUsage] = {}
        self.compute: dict[tuple[str, str, str], ComputeTotals] = {}  # (tenant, period, worker class)

    def upsert_account(self, account: Account) -> None:
        self.accounts[account.tenant_id] = account

    def add_usage(self, usage: Usage) -> None:
        key = (usage.tenant_id, usage.period)
        before = self.totals.get(key, PeriodUsage(usage.tenant_id, usage.period, UsageTotals())).totals
        totals = UsageTotals(
            before.characters + usage.characters,
            before.audio_seconds + usage.audio_seconds,
            before.compute_seconds + usage.compute_seconds,
            before.generations + 1,
        )
        self.totals[key] = PeriodUsage(usage.tenant_id, usage.period, totals, updated_at=usage.occurred_at)

    def usage(self, tenant_id: str, period: str) -> PeriodUsage | None:
        return self.totals.get((tenant_id, period))

    def period_generations(self, period: str) -> int:
        return sum(u.totals.generations for (_, p), u in self.totals.items() if p == period)

    def add_compute(self, usage: Usage) -> None:
        key = (usage.tenant_id, usage.period, usage.worker_class)
        before = self.compute.get(key, ComputeTotals(*key))
        self.compute[key] = ComputeTotals(
            *key,
            before.compute_seconds + usage.compute_seconds,
            before.requests + 1,
            before.characters + usage.characters,
            before.audio_seconds + usage.audio_seconds,
        )

    def compute_totals(self, period: str) -> list[ComputeTotals]:
        return [c for key, c in sorted(self.compute.items()) if key[1] == period]

    def known_accounts(self, created_before=None) -> list[Account]:
        return [self.accounts[t] for t in sorted(self.accounts)]


class FakeBillingUnitOfWork:
    def __init__(self, ledger: FakeLedger | None = None) -> None:
        self.ledger = ledger or FakeLedger()

    @contextmanager
    def read(self) -> Iterator[FakeLedger]:
        yield self.ledger


class FakeInbox:
    """Delivers events to `handlers` (by event type) with a stand-in connection; an event id is applied once."""

    def __init__(self, handlers: dict[str, Callable[..., None]]) -> None:
        self.handlers = handlers
        self.processed: set[str] = set()

    def deliver(self, event: Event) -> str:
        if event.event_id in self.processed:
            return "duplicate"
        self.handlers[event.type](object(), event)  # raises before the mark, as a rolled-back transaction
        self.processed.add(event.event_id)
        return "applied"
