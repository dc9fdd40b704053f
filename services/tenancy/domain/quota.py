"""Quota arithmetic: does a reservation fit the tier, given what is used and reserved?

The storage layer takes a per-tenant lock, reads a UsageSnapshot and calls `check`; the rules
live here so they can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.errors import InvalidArgument, PermissionDenied, QuotaExceeded
from kit.periods import period_of, period_reset
from services.tenancy.domain.tiers import UNLIMITED, TierLimits, within


@dataclass(frozen=True)
class UsageSnapshot:
    characters_used: int
    characters_reserved: int
    voice_profiles_used: int  # committed slots + active reservations
    jobs_running: int


@dataclass(frozen=True)
class QuotaRequest:
    characters: int = 0
    voice_profiles: int = 0
    job_slots: int = 0
    format: str | None = None


def validate(request: QuotaRequest) -> None:
    if request.characters < 0 or request.voice_profiles < 0 or request.job_slots < 0:
        raise InvalidArgument("quota amounts must not be negative")
    if request.voice_profiles > 1 or request.job_slots > 1:
        raise InvalidArgument("reserve at most one voice profile and one job slot at a time")


def check(limits: TierLimits, usage: UsageSnapshot, request: QuotaRequest, now: datetime) -> None:
    """Raise the precise error when the request does not fit; return None when it does."""
    validate(request)
    if request.format and not limits.allows_format(request.format):
        raise PermissionDenied(
            f"format {request.format} is not in the {limits.tier} tier (allowed: {', '.join(limits.formats)})",
            reason="FORMAT_NOT_IN_TIER",
            tier=limits.tier,
            allowed=",".join(limits.formats),
        )
    reset = period_reset(now).isoformat()
    if request.characters and not within(
        limits.characters_per_month, usage.characters_used + usage.characters_reserved + request.characters
    ):
        remaining = max(0, limits.characters_per_month - usage.characters_used - usage.characters_reserved)
        raise QuotaExceeded(
            f"monthly character quota of {limits.characters_per_month} would be exceeded "
            f"({remaining} left until {reset})",
            reason="QUOTA_EXCEEDED",
            limit=limits.characters_per_month,
            remaining=remaining,
            reset_time=reset,
        )
    if request.voice_profiles and not within(limits.voice_profiles, usage.voice_profiles_used + request.voice_profiles):
        raise QuotaExceeded(
            f"the {limits.tier} tier allows {limits.voice_profiles} voice profile(s)",
            reason="VOICE_PROFILE_LIMIT",
            limit=limits.voice_profiles,
        )
    if request.job_slots and not within(limits.concurrent_jobs, usage.jobs_running + request.job_slots):
        raise QuotaExceeded(
            f"the {limits.tier} tier allows {limits.concurrent_jobs} concurrent job(s)",
            reason="CONCURRENCY_LIMIT",
            limit=limits.concurrent_jobs,
            retry_after_seconds=5,
        )


__all__ = ["UNLIMITED", "QuotaRequest", "UsageSnapshot", "check", "period_of", "period_reset", "validate"]
