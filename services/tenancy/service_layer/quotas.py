"""Quota reservations: reserve before work, commit on success, release on failure or cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row

from kit.db.engine import UnitOfWork
from kit.errors import FailedPrecondition, InvalidArgument, NotFound
from kit.ids import is_uuid
from services.tenancy.domain import quota
from services.tenancy.domain.tiers import limits_for
from services.tenancy.storage import quota_store as store
from services.tenancy.storage import repository as repo

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 24 * 3600


class Quotas:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def reserve(
        self,
        tenant_id: str,
        request: quota.QuotaRequest,
        ttl_seconds: int = 0,
        idempotency_key: str = "",
        voice_id: str = "",
    ) -> Row:
        quota.validate(request)
        if request.voice_profiles and not voice_id:
            raise InvalidArgument("voice_id is required to reserve a voice profile")
        ttl = ttl_seconds or DEFAULT_TTL_SECONDS
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            raise InvalidArgument(f"ttl_seconds must be 1..{MAX_TTL_SECONDS}")
        now = datetime.now(UTC)
        period = quota.period_of(now)
        with self.uow.begin() as conn:
            tenant = repo.get_tenant(conn, tenant_id, for_update=True)  # serialises this tenant
            if tenant is None:
                raise NotFound("tenant not found")
            if idempotency_key:
                existing = store.find_by_idempotency(conn, tenant_id, idempotency_key)
                if existing is not None:
                    return existing
            quota.check(limits_for(tenant.tier), store.snapshot(conn, tenant_id, period), request, now)
            return store.add(
                conn,
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

    def commit(self, reservation_id: str, characters: int = -1) -> None:
        with self.uow.begin() as conn:
            row = self._active(conn, reservation_id, allow_committed=True)
            if row is None:
                return  # already committed: a retried commit is a no-op
            used = row.characters if characters < 0 else characters
            if used > row.characters:
                raise InvalidArgument(f"cannot commit {used} characters: only {row.characters} reserved")
            if used:
                store.add_characters(conn, row.tenant_id, row.period, used)
            if row.voice_profiles:
                store.add_voice_slot(conn, row.tenant_id, row.voice_id)
            store.finish(conn, row.id, "committed", used)

    def release(self, reservation_id: str) -> None:
        with self.uow.begin() as conn:
            row = store.get_for_update(conn, _checked_id(reservation_id))
            if row is None:
                raise NotFound("reservation not found")
            if row.status == "active":
                store.finish(conn, row.id, "released")

    def release_voice_profile(self, tenant_id: str, voice_id: str) -> None:
        with self.uow.begin() as conn:
            store.remove_voice_slot(conn, tenant_id, voice_id)

    def usage(self, tenant_id: str) -> tuple[Row, quota.UsageSnapshot, str, datetime]:
        now = datetime.now(UTC)
        period = quota.period_of(now)
        with self.uow.read() as conn:
            tenant = repo.get_tenant(conn, tenant_id) if is_uuid(tenant_id) else None
            if tenant is None:
                raise NotFound("tenant not found")
            return tenant, store.snapshot(conn, tenant_id, period), period, quota.period_reset(now)

    def sweep(self) -> int:
        with self.uow.begin() as conn:
            return store.sweep_expired(conn)

    @staticmethod
    def _active(conn, reservation_id: str, allow_committed: bool) -> Row | None:
        row = store.get_for_update(conn, _checked_id(reservation_id))
        if row is None:
            raise NotFound("reservation not found")
        if row.status == "committed" and allow_committed:
            return None
        if row.status != "active" or row.expires_at <= datetime.now(UTC):
            raise FailedPrecondition(
                f"reservation is {row.status if row.status != 'active' else 'expired'}", reason="RESERVATION_EXPIRED"
            )
        return row


def _checked_id(reservation_id: str) -> str:
    if not is_uuid(reservation_id):
        raise NotFound("reservation not found")
    return reservation_id
