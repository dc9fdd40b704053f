"""The voice owner's private link on fakes: a token with every consent (stored as its SHA-256 only), a new
link that retires the old one, the owner's view (tenant name, terms, 12 zero-filled months of the voice's
generations) and the owner's revocation, which is the tenant's."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from kit.errors import FailedPrecondition, NotFound, Unavailable
from services.embedding.domain import owner_link
from services.embedding.domain.audit import OWNER, Actor
from services.embedding.domain.owner_link import MonthlyGenerations
from services.embedding.service_layer.owner_links import OwnerLinks
from tests.fakes.owner_view import FakeTenantDirectory, FakeVoiceUsage
from tests.unit.test_embedding_use_cases import OTHER, TENANT, World, spoken, terms
from timbre.v1 import events_pb2

OWNER_ACTOR = Actor(OWNER, address="203.0.113.7", address_source="forwarded")
TENANT_KEY = Actor("tenant", key_id="k-1", address="198.51.100.2", address_source="forwarded")


class Portal:
    """The embedding world (fake unit of work, clock at 2026-11-30) with the owner link's use cases."""

    def __init__(self) -> None:
        self.world = World()
        self.directory = FakeTenantDirectory({TENANT: "Acme Audiobooks", OTHER: "Other Studio"})
        self.usage = FakeVoiceUsage()
        self.links = OwnerLinks(self.world.uow, self.world.consents, self.directory, self.usage, self.world.clock)

    def consented(self, tenant: str = TENANT, pitch: float = 200):
        voice = self.world.enrolled(tenant, pitch)
        if tenant == TENANT:
            _, consent = spoken(self.world, voice, pitch)
        else:
            consent = self.world.consents.grant_written(tenant, voice.id, "ab" * 32, terms(self.world))
        return voice, consent

    def stored(self, consent_id: str):
        return next(c for c in self.world.uow.state.consents if c.id == consent_id)


def _not_found(call) -> NotFound:
    with pytest.raises(NotFound) as caught:
        call()
    assert caught.value.reason == "OWNER_LINK_NOT_FOUND"
    return caught.value


# --- the token ---------------------------------------------------------------------------------------


def test_every_consent_carries_a_new_token_that_is_stored_only_as_its_sha256():
    portal = Portal()
    voice, spoken_consent = portal.consented()
    _, written = portal.consented(OTHER, pitch=400)

    for consent in (spoken_consent, written):
        token = consent.owner_token
        assert token is not None and owner_link.well_formed(token) and token.startswith("tvo_")
        stored = portal.stored(consent.id)
        assert stored.owner_token is None
        assert stored.owner_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(consent)  # never printed by accident
    assert spoken_consent.owner_token != written.owner_token
    state = portal.world.uow.state
    leaked = repr((state.consents, state.audit, state.events, state.voices))
    assert spoken_consent.owner_token not in leaked and written.owner_token not in leaked
    # The tenant's own reads never carry it again.
    assert portal.world.consents.get(TENANT, voice.id).owner_token is None


def test_twelve_months_end_with_the_current_one_across_a_year_boundary():
    assert owner_link.last_months(date(2026, 2, 14)) == [
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert owner_link.last_months(date(2026, 12, 31), 2) == ["2026-11", "2026-12"]
    filled = owner_link.zero_filled(["2026-10", "2026-11"], [MonthlyGenerations("2026-11", 2, 40, 3.0)])
    assert filled == [MonthlyGenerations("2026-10"), MonthlyGenerations("2026-11", 2, 40, 3.0)]


# --- the owner's view --------------------------------------------------------------------------------


def test_the_owner_sees_the_terms_the_tenant_and_twelve_zero_filled_months_of_this_voice_only():
    portal = Portal()
    voice, consent = portal.consented()
    other_voice, _ = portal.consented(TENANT, pitch=320)
    portal.usage.generated(TENANT, voice.id, date(2026, 11, 3), 120, 8.0)
    portal.usage.generated(TENANT, voice.id, date(2026, 11, 29), 30, 2.0)
    portal.usage.generated(TENANT, voice.id, date(2026, 1, 10), 10, 1.0)
    portal.usage.generated(TENANT, other_voice.id, date(2026, 11, 29), 999, 60.0)  # another voice
    portal.usage.generated(TENANT, voice.id, date(2025, 11, 30), 77, 5.0)  # 13 months ago

    assert consent.owner_token is not None
    view = portal.links.view(consent.owner_token)

    assert (view.voice_id, view.voice_name, view.owner_name, view.tenant_name, view.purpose) == (
        voice.id,
        "narrator",
        "Joe Owner",
        "Acme Audiobooks",
        "audiobooks",
    )
    assert (view.status, view.granted_at, view.revoked_at) == ("active", consent.created_at, None)
    assert view.expires_at == consent.expires_at and view.consent_id == consent.id
    assert [m.month for m in view.generations] == ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 12)]
    months = {m.month: m for m in view.generations}
    assert months["2026-11"] == MonthlyGenerations("2026-11", 2, 150, 10.0)
    assert months["2026-01"] == MonthlyGenerations("2026-01", 1, 10, 1.0)
    assert sum(m.requests for m in view.generations) == 3
    assert portal.usage.asked[-1] == (TENANT, voice.id, date(2025, 12, 1), date(2026, 11, 30))


@pytest.mark.parametrize(
    "token",
    ["", "tvo_", "tvo_" + "A" * 42, "tmb_abc_" + "A" * 40, "tvo_" + "A" * 42 + "!", "tvo_" + "A" * 43],
)
def test_an_unknown_or_malformed_token_is_not_found_and_says_nothing_more(token):
    portal = Portal()
    _, consent = portal.consented()
    error = _not_found(lambda: portal.links.view(token))
    assert token not in error.message or not token
    _not_found(lambda: portal.links.revoke(token, OWNER_ACTOR))
    assert portal.world.voices.has_consent(consent.voice_id)


def test_the_view_fails_rather_than_show_zeros_when_billing_is_down():
    portal = Portal()
    _, consent = portal.consented()
    portal.usage.down = True
    assert consent.owner_token is not None
    with pytest.raises(Unavailable):
        portal.links.view(consent.owner_token)


def test_an_expired_consent_shows_as_expired():
    portal = Portal()
    _, consent = portal.consented()
    assert consent.owner_token is not None
    portal.world.clock.advance(timedelta(days=366).total_seconds())
    assert portal.links.view(consent.owner_token).status == "expired"


# --- a new link ---------------------------------------------------------------------------------------


def test_a_new_link_retires_the_old_token_at_once_and_is_audited():
    portal = Portal()
    voice, consent = portal.consented()
    old = consent.owner_token
    assert old is not None

    renewed = portal.links.issue(TENANT, voice.id, TENANT_KEY)

    assert renewed.id == consent.id and renewed.owner_token and renewed.owner_token != old
    assert portal.stored(consent.id).owner_token_hash == owner_link.digest(renewed.owner_token)
    _not_found(lambda: portal.links.view(old))
    assert portal.links.view(renewed.owner_token).voice_id == voice.id
    entry = portal.world.uow.state.audit[-1]
    assert (entry.action, entry.consent_id, entry.actor) == ("consent.owner_link_issued", consent.id, TENANT_KEY)
    assert renewed.owner_token not in repr(portal.world.uow.state.audit)


def test_a_new_link_needs_the_tenants_own_voice_with_a_consent_in_force():
    portal = Portal()
    voice, _ = portal.consented()
    with pytest.raises(NotFound):
        portal.links.issue(OTHER, voice.id)
    unconsented = portal.world.enrolled(TENANT, 320)
    with pytest.raises(FailedPrecondition) as none:
        portal.links.issue(TENANT, unconsented.id)
    assert none.value.reason == "CONSENT_REQUIRED"
    portal.world.consents.revoke(TENANT, voice.id)
    with pytest.raises(FailedPrecondition):
        portal.links.issue(TENANT, voice.id)


def test_one_voices_token_never_opens_another_consent():
    portal = Portal()
    voice, consent = portal.consented()
    other_voice, other = portal.consented(OTHER, pitch=400)
    assert consent.owner_token is not None and other.owner_token is not None
    assert portal.links.view(other.owner_token).voice_id == other_voice.id
    assert portal.links.view(other.owner_token).tenant_name == "Other Studio"
    portal.links.revoke(other.owner_token, OWNER_ACTOR)
    assert portal.world.voices.has_consent(voice.id)  # the first voice is untouched


# --- the owner's revocation ----------------------------------------------------------------------------


def test_the_owners_revocation_is_the_tenants_with_the_owner_as_actor_and_is_idempotent():
    portal = Portal()
    voice, consent = portal.consented()
    token = consent.owner_token
    assert token is not None
    portal.world.index.upsert(voice.id, TENANT, portal.world.voices.get(TENANT, voice.id).embedding)

    view = portal.links.revoke(token, OWNER_ACTOR)

    now = portal.world.clock.now()
    assert (view.status, view.revoked_at) == ("revoked", now)
    disabled = portal.world.voices.get(TENANT, voice.id)
    assert (disabled.status, disabled.status_reason, disabled.embedding) == ("disabled", "CONSENT_REQUIRED", None)
    assert not portal.world.voices.has_consent(voice.id)
    assert portal.world.uow.events(events_pb2.ConsentRevoked)[-1].consent_id == consent.id
    assert portal.world.uow.state.events[-1].payload is None  # the speaker-index entry is tombstoned
    assert voice.id not in portal.world.uow.state.data_keys  # its samples are shredded
    assert voice.id not in portal.world.index.snapshot()
    revoked = [e for e in portal.world.uow.state.audit if e.action == "consent.revoked"]
    assert [(e.consent_id, e.actor) for e in revoked] == [(consent.id, OWNER_ACTOR)]

    events = len(portal.world.uow.state.events)
    again = portal.links.revoke(token, OWNER_ACTOR)
    assert (again.status, again.revoked_at) == ("revoked", now)
    assert len(portal.world.uow.state.events) == events
    assert len([e for e in portal.world.uow.state.audit if e.action == "consent.revoked"]) == 1


def test_after_the_tenant_revoked_the_owner_sees_it_and_revoking_again_changes_nothing():
    portal = Portal()
    voice, consent = portal.consented()
    assert consent.owner_token is not None
    portal.world.consents.revoke(TENANT, voice.id, TENANT_KEY)
    events = len(portal.world.uow.state.events)
    assert portal.links.revoke(consent.owner_token, OWNER_ACTOR).status == "revoked"
    assert len(portal.world.uow.state.events) == events


def test_a_superseded_consents_link_shows_it_revoked_and_cannot_touch_the_new_one():
    portal = Portal()
    voice, first = portal.consented()
    second = portal.world.consents.grant_written(TENANT, voice.id, "cd" * 32, terms(portal.world))
    assert first.owner_token is not None and second.owner_token is not None

    assert portal.links.view(first.owner_token).status == "revoked"
    portal.links.revoke(first.owner_token, OWNER_ACTOR)
    assert portal.world.voices.get(TENANT, voice.id).status == "ready"
    assert portal.links.view(second.owner_token).status == "active"


def test_a_deleted_voices_owner_still_sees_the_consent_as_revoked():
    portal = Portal()
    voice, consent = portal.consented()
    assert consent.owner_token is not None
    portal.world.voices.delete(TENANT, voice.id)
    view = portal.links.revoke(consent.owner_token, OWNER_ACTOR)
    assert (view.status, view.voice_name) == ("revoked", "narrator")


def test_a_revocation_commits_even_when_the_view_after_it_cannot_be_read():
    portal = Portal()
    voice, consent = portal.consented()
    assert consent.owner_token is not None
    portal.usage.down = True
    with pytest.raises(Unavailable):
        portal.links.revoke(consent.owner_token, OWNER_ACTOR)
    assert portal.world.voices.get(TENANT, voice.id).status == "disabled"
    portal.usage.down = False
    assert portal.links.revoke(consent.owner_token, OWNER_ACTOR).status == "revoked"


def test_the_status_follows_revocation_then_expiry():
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert owner_link.status(None, now + timedelta(days=1), now) == "active"
    assert owner_link.status(None, now, now) == "expired"
    assert owner_link.status(now, now + timedelta(days=1), now) == "revoked"
