"""Usage analytics use cases: recording a finished request (inside the analytics consumer's transaction,
whose inbox mark makes a redelivered event a no-op) and the reports tenants and operators read."""

from __future__ import annotations

from datetime import date, timedelta

from kit.clock import Clock
from kit.errors import InvalidArgument
from services.billing.domain.analytics import (
    GROUP_BYS,
    ORDER_BYS,
    Rollup,
    TenantStorage,
    UsageReport,
    UsageRow,
    day_of,
    report,
    storage_by_tenant,
    top,
)
from services.billing.service_layer.analytics_ports import AnalyticsUnitOfWork, ObjectSizes, Rollups

MAX_DAYS = 366
DEFAULT_DAYS_BACK = 30
DEFAULT_TOP = 10
MAX_TOP = 100
MAX_VOICE_ID = 64


def record(rollups: Rollups, contribution: Rollup) -> None:
    rollups.add(contribution)


def parse_day(value: str, name: str) -> date:
    """A "YYYY-MM-DD" day (exactly that shape: fromisoformat alone would take "20240101" too)."""
    try:
        if len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument(f"{name} must be a date YYYY-MM-DD", field=name) from exc


class Analytics:
    def __init__(self, uow: AnalyticsUnitOfWork, objects: ObjectSizes, clock: Clock) -> None:
        self.uow = uow
        self.objects = objects
        self.clock = clock

    def date_range(self, from_date: str, to_date: str) -> tuple[date, date]:
        """Inclusive UTC days: `to` defaults to today, `from` to 30 days before `to`; at most 366 days."""
        last = parse_day(to_date, "to_date") if to_date else day_of(self.clock.now())
        first = parse_day(from_date, "from_date") if from_date else last - timedelta(days=DEFAULT_DAYS_BACK)
        if first > last:
            raise InvalidArgument("from_date must not be after to_date", field="from_date")
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidArgument(f"a range spans at most {MAX_DAYS} days", field="to_date")
        return first, last

    @staticmethod
    def group_by(value: str) -> str:
        group_by = value or "day"
        if group_by not in GROUP_BYS:
            raise InvalidArgument(f"group_by must be one of {', '.join(GROUP_BYS)}", field="group_by")
        return group_by

    def usage(
        self, tenant_id: str | None, from_date: str = "", to_date: str = "", group_by: str = "", voice_id: str = ""
    ) -> UsageReport:
        """One tenant's usage, or every tenant's when tenant_id is None (the caller checked who may ask);
        `voice_id`: only that voice's (another tenant's voice id simply matches nothing)."""
        first, last = self.date_range(from_date, to_date)
        group = self.group_by(group_by)
        if len(voice_id) > MAX_VOICE_ID:
            raise InvalidArgument(f"voice_id is at most {MAX_VOICE_ID} characters", field="voice_id")
        with self.uow.read() as rollups:
            found = rollups.between(first, last, None if tenant_id is None else [tenant_id], voice_id or None)
        return report(tenant_id or "", first, last, group, found, voice_id)

    def top_tenants(self, from_date: str = "", to_date: str = "", order_by: str = "", limit: int = 0) -> list[UsageRow]:
        first, last = self.date_range(from_date, to_date)
        order_by = order_by or "characters"
        if order_by not in ORDER_BYS:
            raise InvalidArgument(f"order_by must be one of {', '.join(ORDER_BYS)}", field="order_by")
        if limit < 0 or limit > MAX_TOP:
            raise InvalidArgument(f"limit must be between 1 and {MAX_TOP}", field="limit")
        limit = limit or DEFAULT_TOP
        with self.uow.read() as rollups:
            tenants = rollups.top_tenants(first, last, order_by, limit)
            found = rollups.between(first, last, tenants) if tenants else []
        return top(found, order_by, limit)

    def tenant_storage(self) -> list[TenantStorage]:
        return storage_by_tenant(self.objects.list_sizes(""))
