"""Tenancy's quota calls in memory: reservations and what became of them."""

from __future__ import annotations

import uuid


class FakeQuotas:
    def __init__(self) -> None:
        self.reserved: dict[str, tuple[str, dict]] = {}  # reservation id → (tenant, amounts)
        self.committed: list[str] = []
        self.released: list[str] = []
        self.released_profiles: list[tuple[str, str]] = []

    def reserve(self, tenant_id: str, **amounts) -> str:
        reservation = str(uuid.uuid4())
        self.reserved[reservation] = (tenant_id, amounts)
        return reservation

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        self.committed.append(reservation_id)

    def release(self, reservation_id: str) -> None:
        self.released.append(reservation_id)

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None:
        self.released_profiles.append((tenant_id, voice_id))

    def open(self) -> list[str]:
        """Reservations neither committed nor released."""
        return [r for r in self.reserved if r not in self.committed and r not in self.released]
