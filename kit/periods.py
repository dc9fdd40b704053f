"""Billing periods: calendar months in UTC, named "YYYY-MM"."""

from __future__ import annotations

from datetime import datetime, timezone


def period_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


def period_reset(moment: datetime) -> datetime:
    """Start of the next period."""
    moment = moment.astimezone(timezone.utc)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)
