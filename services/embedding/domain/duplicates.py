"""The duplicate-voice decision over index matches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Match:
    voice_id: str
    tenant_id: str
    score: float
    authorized_tenants: frozenset[str]


@dataclass(frozen=True)
class Decision:
    blocked_by: Match | None  # another tenant's voice without consent for the requester
    same_tenant: Match | None  # the requester already registered this voice (reported, not blocked)
    consented: Match | None  # another tenant's voice whose owner consented to the requester


def decide(matches: list[Match], tenant_id: str, voice_id: str, threshold: float) -> Decision:
    blocked = same = consented = None
    for match in sorted(matches, key=lambda m: -m.score):
        if match.voice_id == voice_id or match.score < threshold:
            continue
        if match.tenant_id == tenant_id:
            same = same or match
        elif tenant_id in match.authorized_tenants:
            consented = consented or match
        else:
            blocked = blocked or match
    return Decision(blocked, same, consented)
