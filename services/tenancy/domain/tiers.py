"""The product's tiers (brief: free / pro / enterprise). -1 means unlimited."""

from __future__ import annotations

from dataclasses import dataclass

UNLIMITED = -1


@dataclass(frozen=True)
class TierLimits:
    tier: str
    characters_per_month: int
    voice_profiles: int
    concurrent_jobs: int
    formats: tuple[str, ...]

    def allows_format(self, fmt: str) -> bool:
        return fmt in self.formats


TIERS: dict[str, TierLimits] = {
    "free": TierLimits("free", 10_000, 1, 1, ("mp3",)),
    "pro": TierLimits("pro", 500_000, 10, 5, ("mp3", "wav", "flac")),
    "enterprise": TierLimits("enterprise", UNLIMITED, UNLIMITED, 50, ("mp3", "wav", "flac", "ogg")),
}


def limits_for(tier: str) -> TierLimits:
    return TIERS[tier]


def within(limit: int, value: int) -> bool:
    return limit == UNLIMITED or value <= limit
