"""Billing periods: calendar months in UTC, named "YYYY-MM"."""

from __future__ import annotations

from datetime import UTC, datetime


def period_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_reset(moment: datetime) -> datetime:
    """Start of the next period."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a "YYYY-MM" period."""
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    return start, period_reset(start)
