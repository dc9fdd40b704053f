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


# Headerless PCM and µ-law for voice agents and telephony: paid tiers, like the lossless files.
REALTIME_FORMATS = ("pcm_16000", "pcm_22050", "pcm_24000", "ulaw_8000")

TIERS: dict[str, TierLimits] = {
    "free": TierLimits("free", 10_000, 1, 1, ("mp3",)),
    "pro": TierLimits("pro", 500_000, 10, 5, ("mp3", "wav", "flac", *REALTIME_FORMATS)),
    "enterprise": TierLimits("enterprise", UNLIMITED, UNLIMITED, 50, ("mp3", "wav", "flac", "ogg", *REALTIME_FORMATS)),
}


def limits_for(tier: str) -> TierLimits:
    return TIERS[tier]


def within(limit: int, value: int) -> bool:
    return limit == UNLIMITED or value <= limit
