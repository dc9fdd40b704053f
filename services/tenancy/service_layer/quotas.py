"""Quota reservations: reserve before work, commit on success, release on failure or cancel; and
`settle`, which counts recorded usage (UsageRecorded) against its reservation when no commit did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from kit.clock import Clock
from kit.errors import FailedPrecondition, InvalidArgument, NotFound
from kit.ids import is_uuid
from kit.logging import get_logger
from services.tenancy.domain import quota
from services.tenancy.domain.accounts import Tenant
from services.tenancy.domain.billing import check_access
from services.tenancy.domain.reservations import Reservation
from services.tenancy.domain.tiers import limits_for
from services.tenancy.service_layer.ports import Transaction, UnitOfWork

log = get_logger("tenancy_quotas")

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class UsageReport:
    tenant: Tenant
    usage: quota.UsageSnapshot
    period: str
    period_reset: datetime


class Quotas:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def reserve(
        self,
        tenant_id: str,
        request: quota.QuotaRequest,
        ttl_seconds: int = 0,
        idempotency_key: str = "",
        voice_id: str = "",
    ) -> Reservation:
        quota.validate(request)
        if request.voice_profiles and not voice_id:
            raise InvalidArgument("voice_id is required to reserve a voice profile")
        ttl = ttl_seconds or DEFAULT_TTL_SECONDS
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            raise InvalidArgument(f"ttl_seconds must be 1..{MAX_TTL_SECONDS}")
        now = self.clock.now()
        period = quota.period_of(now)
        with self.uow.begin() as tx:
            tenant = tx.accounts.get_tenant(tenant_id, for_update=True)  # serialises this tenant
            if tenant is None:
                raise NotFound("tenant not found")
            if idempotency_key:
                existing = tx.reservations.find_by_idempotency(tenant_id, idempotency_key)
                if existing is not None:
                    return existing
            # A token issued just before a suspension lives on for minutes; no new work starts on it.
            check_access(tenant.billing)
            quota.check(limits_for(tenant.tier), tx.reservations.snapshot(tenant_id, period, now), request, now)
            return tx.reservations.add(
                Reservation(
                    id=str(uuid.uuid4()),
                    tenant_id=tenant_id,
                    period=period,
                    characters=request.characters,
                    voice_profiles=request.voice_profiles,
                    job_slots=request.job_slots,
                    voice_id=voice_id or None,
                    idempotency_key=idempotency_key or None,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        """Count what was used (the work succeeded). A retried commit, or one after the usage event
        settled the reservation, is a no-op; a reservation that lapsed while the work ran still counts."""
        with self.uow.begin() as tx:
            held = tx.reservations.get_for_update(_checked_id(reservation_id))
            if held is None:
                raise NotFound("reservation not found")
            if held.status == "committed":
                return
            if not held.committable():
                raise FailedPrecondition(f"reservation is {held.status}", reason="RESERVATION_EXPIRED")
            used = held.characters if characters < 0 else characters
            if used > held.characters:
                raise InvalidArgument(f"cannot commit {used} characters: only {held.characters} reserved")
            _count(tx, held, used)

    def release(self, reservation_id: str) -> None:
        with self.uow.begin() as tx:
            held = tx.reservations.get_for_update(_checked_id(reservation_id))
            if held is None:
                raise NotFound("reservation not found")
            if held.status == "active":
                tx.reservations.finish(held.id, "released")

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None:
        with self.uow.begin() as tx:
            tx.reservations.remove_voice_slot(tenant_id, voice_id)

    def usage(self, tenant_id: str) -> UsageReport:
        now = self.clock.now()
        period = quota.period_of(now)
        with self.uow.read() as tx:
            tenant = tx.accounts.get_tenant(tenant_id) if is_uuid(tenant_id) else None
            if tenant is None:
                raise NotFound("tenant not found")
            usage = tx.reservations.snapshot(tenant_id, period, now)
        return UsageReport(tenant, usage, period, quota.period_reset(now))

    def sweep(self) -> int:
        """Mark lapsed reservations expired (they stopped counting already); how many were."""
        with self.uow.begin() as tx:
            return tx.reservations.sweep_expired(self.clock.now())


def settle(tx: Transaction, reservation_id: str, characters: int) -> bool:
    """Count recorded usage (UsageRecorded) against its reservation unless a commit already did; whether
    it counted. Runs in the usage consumer's transaction, so a crash between a generation's record and
    its synchronous CommitQuota still ends with the characters counted, once.

    An unknown reservation is logged and skipped: no retry will find it, and dead-lettering usage that
    billing has already counted would only hide it."""
    held = tx.reservations.get_for_update(reservation_id) if is_uuid(reservation_id) else None
    if held is None:
        log.warning("usage_for_unknown_reservation", reservation_id=reservation_id, characters=characters)
        return False
    if not held.settleable():
        return False  # the synchronous commit (or an earlier delivery) counted it
    if held.status != "active":
        log.info("usage_settles_a_reservation_no_longer_active", reservation_id=held.id, status=held.status)
    _count(tx, held, characters)
    return True


def _count(tx: Transaction, held: Reservation, characters: int) -> None:
    """Add `characters` to the period's usage, take any voice-profile slot, and mark the hold committed
    (which is what makes a later commit or settle a no-op)."""
    if characters:
        tx.reservations.add_characters(held.tenant_id, held.period, characters)
    if held.voice_profiles and held.voice_id:
        tx.reservations.add_voice_slot(held.tenant_id, held.voice_id)
    tx.reservations.finish(held.id, "committed", characters)


def _checked_id(reservation_id: str) -> str:
    if not is_uuid(reservation_id):
        raise NotFound("reservation not found")
    return reservation_id
