"""Billing accounts and usage totals in PostgreSQL (SQLAlchemy Core over the transaction's connection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from kit.db.unit_of_work import SqlUnitOfWork as UnitOfWork
from services.billing.domain.usage import Account, ComputeTotals, PeriodUsage, Usage, UsageTotals
from services.billing.storage import compute
from services.billing.storage.tables import accounts, usage_totals


class SqlLedger:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def upsert_account(self, account: Account) -> None:
        statement = insert(accounts).values(tenant_id=account.tenant_id, name=account.name, tier=account.tier)
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[accounts.c.tenant_id], set_={"name": account.name, "tier": account.tier}
            )
        )

    def add_usage(self, usage: Usage) -> None:
        statement = insert(usage_totals).values(
            tenant_id=usage.tenant_id,
            period=usage.period,
            characters=usage.characters,
            audio_seconds=usage.audio_seconds,
            compute_seconds=usage.compute_seconds,
            generations=1,
        )
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[usage_totals.c.tenant_id, usage_totals.c.period],
                set_={
                    "characters": usage_totals.c.characters + usage.characters,
                    "audio_seconds": usage_totals.c.audio_seconds + usage.audio_seconds,
                    "compute_seconds": usage_totals.c.compute_seconds + usage.compute_seconds,
                    "generations": usage_totals.c.generations + 1,
                    "updated_at": func.now(),
                },
            )
        )

    def usage(self, tenant_id: str, period: str) -> PeriodUsage | None:
        row = self.conn.execute(
            select(usage_totals).where(usage_totals.c.tenant_id == tenant_id, usage_totals.c.period == period)
        ).first()
        if row is None:
            return None
        totals = UsageTotals(row.characters, row.audio_seconds, row.compute_seconds, row.generations)
        return PeriodUsage(tenant_id, period, totals, reported=row.reported_at is not None, updated_at=row.updated_at)

    def period_generations(self, period: str) -> int:
        count = self.conn.execute(
            select(func.coalesce(func.sum(usage_totals.c.generations), 0)).where(usage_totals.c.period == period)
        ).scalar_one()
        return int(count)

    def add_compute(self, usage: Usage) -> None:
        compute.add_compute(self.conn, usage)

    def compute_totals(self, period: str) -> list[ComputeTotals]:
        return compute.period_compute(self.conn, period)

    def known_accounts(self, created_before: datetime | None = None) -> list[Account]:
        return compute.known_accounts(self.conn, created_before)


class SqlUnitOfWork(UnitOfWork[SqlLedger]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlLedger)
