"""The audit log on fakes: every action on voices and consent leaves one entry, in the action's own
transaction, with who did it; tenants read only their own entries."""

from __future__ import annotations

import pytest

from kit.audio import codec
from kit.errors import InvalidArgument, PermissionDenied
from kit.paging import PageRequest
from services.embedding.domain import audit
from services.embedding.domain.audit import Actor
from services.embedding.service_layer.audit import AuditTrail
from services.embedding.service_layer.voices import Upload
from tests.fakes.speaker import tone_bursts
from tests.unit.test_embedding_use_cases import OTHER, TENANT, World, terms

KEY = Actor("tenant", key_id="key-1", address="203.0.113.7", address_source="forwarded", peer="10.0.0.2")
OPERATOR = Actor("operator", address="10.0.0.9", address_source="peer", peer="10.0.0.9")


def entries(world: World, tenant: str = TENANT, voice_id: str = "") -> list[audit.AuditEvent]:
    return AuditTrail(world.uow).list(tenant, PageRequest(100), voice_id).items


def actions(world: World, tenant: str = TENANT) -> list[str]:
    return [e.action for e in reversed(entries(world, tenant))]  # oldest first


def recording(world: World, pitch: float) -> bytes:
    return codec.encode(tone_bursts(pitch, 4.0, seed=9), 16000, "wav")


def test_enrollment_verdict_consent_verify_revoke_and_delete_are_each_recorded_with_their_actor():
    world = World(built_by_synthesis=True)
    voice = world.analyse(world.voices.enroll(TENANT, "narrator", [world_upload(world)], language="en", actor=KEY))
    assert voice.status == "processing"
    with world.uow.begin() as tx:
        world.voices.voice_built(tx, voice.id)
    challenge, _ = world.consents.challenge(TENANT, voice.id, "en", actor=KEY)
    world.recogniser.words = challenge.phrase.split()
    consent = world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world), recording(world, 200), KEY)
    world.consents.verify(TENANT, voice.id, recording(world, 200), actor=KEY)
    world.consents.revoke(TENANT, voice.id, actor=KEY)
    world.voices.delete(TENANT, voice.id, actor=KEY)

    assert actions(world) == [
        audit.ENROLLMENT_REQUESTED,
        audit.VOICE_READY,
        audit.CHALLENGE_CREATED,
        audit.CONSENT_GRANTED,
        audit.SPEAKER_VERIFIED,
        audit.CONSENT_REVOKED,
        audit.VOICE_DELETED,
    ]
    log = {e.action: e for e in entries(world)}
    assert log[audit.VOICE_READY].actor.kind == "system"
    for action in (audit.ENROLLMENT_REQUESTED, audit.CONSENT_GRANTED, audit.CONSENT_REVOKED, audit.VOICE_DELETED):
        assert log[action].actor == KEY and log[action].voice_id == voice.id
    assert log[audit.CONSENT_GRANTED].consent_id == consent.id == log[audit.CONSENT_REVOKED].consent_id
    assert log[audit.CONSENT_GRANTED].detail == {"kind": "spoken"}
    assert log[audit.CHALLENGE_CREATED].detail == {"challenge_id": challenge.id}
    assert log[audit.SPEAKER_VERIFIED].detail["same_speaker"] == "True"


def world_upload(world: World) -> Upload:
    return Upload("take.wav", codec.encode(tone_bursts(200, 6.0, 16000, seed=0), 16000, "wav"))


def test_a_rejected_analysis_and_a_failed_build_are_recorded_as_the_systems():
    world = World(built_by_synthesis=True)
    short = world.voices.enroll(
        TENANT,
        "short",
        [Upload("s.wav", codec.encode(tone_bursts(200, 1.0, 16000), 16000, "wav"))],
        language="en",
        actor=KEY,
    )
    assert world.analyse(short).status == "rejected"
    built = world.analyse(world.voices.enroll(TENANT, "n", [world_upload(world)], language="en", actor=KEY))
    with world.uow.begin() as tx:
        world.voices.voice_build_failed(tx, built.id, "MODEL_MISSING", "no base voice")

    rejected = [e for e in entries(world) if e.action == audit.VOICE_REJECTED]
    assert {(e.voice_id, e.detail["reason"], e.actor.kind) for e in rejected} == {
        (short.id, "AUDIO_TOO_SHORT", "system"),
        (built.id, "MODEL_MISSING", "system"),
    }


@pytest.mark.parametrize(
    ("pitch", "marked", "reason"), [(400, False, "CONSENT_SPEAKER_MISMATCH"), (200, True, "CONSENT_WATERMARKED")]
)
def test_a_refused_consent_is_recorded_with_its_reason(pitch, marked, reason):
    world = World()
    voice = world.enrolled(TENANT, 200)
    challenge, _ = world.consents.challenge(TENANT, voice.id, "en", actor=KEY)
    world.recogniser.words = challenge.phrase.split()
    world.marker.marked = marked
    with pytest.raises(PermissionDenied):
        world.consents.submit_spoken(TENANT, voice.id, challenge.id, terms(world), recording(world, pitch), KEY)
    refused = entries(world)[0]
    assert (refused.action, refused.detail["reason"], refused.actor) == (audit.CONSENT_REFUSED, reason, KEY)


def test_written_consent_names_the_operator():
    world = World()
    voice = world.enrolled(TENANT, 200)
    world.consents.grant_written(TENANT, voice.id, "a" * 64, terms(world), OPERATOR)
    granted = entries(world)[0]
    assert (granted.action, granted.actor, granted.detail) == (audit.CONSENT_GRANTED, OPERATOR, {"kind": "written"})


def test_an_action_that_fails_leaves_no_entry():
    world = World()
    voice = world.enrolled(TENANT, 200)
    before = actions(world)
    world.uow.fail_commit = RuntimeError("the database went away")
    with pytest.raises(RuntimeError):
        world.voices.delete(TENANT, voice.id, actor=KEY)
    assert actions(world) == before  # rolled back with the deletion itself


def test_tenants_read_only_their_own_entries_paged_newest_first_and_filtered_by_voice():
    world = World()
    mine = [world.enrolled(TENANT, 200), world.enrolled(TENANT, 300)]
    world.enrolled(OTHER, 500)
    trail = AuditTrail(world.uow)

    first = trail.list(TENANT, PageRequest(2))
    second = trail.list(TENANT, PageRequest.of(2, first.next_token))
    ids = [e.event_id for e in first.items + second.items]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4 and second.next is None
    assert {e.tenant_id for e in first.items + second.items} == {TENANT}
    assert {e.voice_id for e in trail.list(TENANT, PageRequest(10), mine[1].id).items} == {mine[1].id}
    assert trail.list(OTHER, PageRequest(10), mine[0].id).items == []  # another tenant's voice: nothing


def test_a_malformed_voice_id_or_page_token_is_a_clear_error():
    trail = AuditTrail(World().uow)
    with pytest.raises(InvalidArgument):
        trail.list(TENANT, PageRequest(10), "not-a-voice")
    with pytest.raises(InvalidArgument):
        trail.list(TENANT, PageRequest.of(10, "bm90LWEtY3Vyc29y"))
