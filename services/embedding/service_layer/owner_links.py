"""The voice owner's private link (domain/owner_link.py): the tenant issues a new one, and the person
whose voice it is reads their consent through it, with the voice's generations per month, or revokes it.

The owner's calls carry no account: the token is the credential, and it opens its one consent. An
unknown, malformed or replaced token is OWNER_LINK_NOT_FOUND, whichever it was, and says nothing about
whether the voice exists. The owner's revocation is the tenant's (Consents.revoke_locked), with the owner
as the audit log's actor.

The view needs tenancy (the tenant's name) and billing (the voice's usage). If billing cannot answer, the
view fails with Unavailable rather than show months of zeros that may be false; a revocation is
committed before the view is composed, so it never waits on billing (its retry is idempotent).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from kit.clock import Clock, SystemClock
from kit.errors import FailedPrecondition, NotFound
from services.embedding.domain import audit
from services.embedding.domain import owner_link as links
from services.embedding.domain.audit import SYSTEM, Actor
from services.embedding.domain.owner_link import OwnerView
from services.embedding.domain.voice import Consent
from services.embedding.service_layer.audit import record as record_audit
from services.embedding.service_layer.consent import Consents
from services.embedding.service_layer.ports import TenantDirectory, UnitOfWork, VoiceUsage

NOT_FOUND_REASON = "OWNER_LINK_NOT_FOUND"


def _not_found() -> NotFound:
    # One message for every case: it must not tell a guesser which part was wrong.
    return NotFound("owner link not found: it is mistyped, or was replaced by a newer link", reason=NOT_FOUND_REASON)


class OwnerLinks:
    def __init__(
        self,
        uow: UnitOfWork,
        consents: Consents,
        directory: TenantDirectory,
        usage: VoiceUsage,
        clock: Clock | None = None,
    ) -> None:
        self.uow = uow
        self.consents = consents
        self.directory = directory
        self.usage = usage
        self.clock: Clock = clock or SystemClock()

    # --- the tenant's side --------------------------------------------------------------------------

    def issue(self, tenant_id: str, voice_id: str, actor: Actor = SYSTEM) -> Consent:
        """A new link for the voice's active consent (returned with `owner_token` set); the previous
        token stops working when this commits."""
        token = links.new_token()
        with self.uow.begin() as tx:
            voice = tx.voices.voice(voice_id, tenant_id, for_update=True)
            if voice is None:
                raise NotFound("voice not found")
            consent = tx.voices.active_consent(voice_id, self.clock.now())
            if consent is None:
                raise FailedPrecondition(
                    "the voice has no active consent: an owner link opens a consent that is in force",
                    reason="CONSENT_REQUIRED",
                )
            token_hash = links.digest(token)
            tx.voices.set_owner_token(consent.id, token_hash)
            record_audit(tx, tenant_id, audit.OWNER_LINK_ISSUED, actor, voice_id, consent.id)
        return replace(consent, owner_token_hash=token_hash, owner_token=token)

    # --- the owner's side ---------------------------------------------------------------------------

    @staticmethod
    def _digest(token: str) -> str:
        if not links.well_formed(token):
            raise _not_found()
        return links.digest(token)

    def view(self, token: str) -> OwnerView:
        token_hash = self._digest(token)
        with self.uow.read() as tx:
            consent = tx.voices.consent_by_owner_token(token_hash)
            voice = tx.voices.voice(consent.voice_id, include_deleted=True) if consent else None
        if consent is None or voice is None:
            raise _not_found()
        now = self.clock.now().astimezone(UTC)
        months = links.last_months(now.date())
        tenant_name = self.directory.tenant_name(consent.tenant_id)
        measured = self.usage.monthly(consent.tenant_id, consent.voice_id, links.first_day(months[0]), now.date())
        return OwnerView(
            consent_id=consent.id,
            voice_id=voice.id,
            voice_name=voice.name,
            owner_name=consent.owner_name,
            tenant_name=tenant_name,
            purpose=consent.purpose,
            status=links.status(consent.revoked_at, consent.expires_at, now),
            granted_at=consent.created_at,
            expires_at=consent.expires_at,
            revoked_at=consent.revoked_at,
            generations=links.zero_filled(months, measured),
        )

    def revoke(self, token: str, actor: Actor) -> OwnerView:
        """What the tenant's revocation does, asked by the owner: the voice disabled at once, its data
        shredded, ConsentRevoked staged. A consent already revoked (by either side, superseded, or its
        voice deleted) is left as it is: revoking twice is not an error."""
        token_hash = self._digest(token)
        revoked_voice = None
        with self.uow.begin() as tx:
            consent = tx.voices.consent_by_owner_token(token_hash)
            if consent is None:
                raise _not_found()
            if consent.revoked_at is None:
                voice = tx.voices.voice(consent.voice_id, consent.tenant_id, for_update=True)
                # Read again under the voice's lock: a revocation or a new consent may have come first.
                consent = tx.voices.consent_by_owner_token(token_hash)
                if voice is not None and consent is not None and consent.revoked_at is None:
                    self.consents.revoke_locked(tx, voice, actor)
                    revoked_voice = voice.id
        if revoked_voice is not None:
            self.consents.voices.index.remove(revoked_voice)
        return self.view(token)
