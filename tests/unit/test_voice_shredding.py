"""Encryption at rest and crypto-shredding in the embedding use cases (on fakes): samples and consent
recordings are sealed with the voice's data key; deleting the voice or revoking its consent deletes the
key in the same transaction, tombstones its speaker-index entry and clears its embedding."""

from __future__ import annotations

import pytest

from kit.crypto import DataKeyShredded, is_sealed
from kit.errors import NotFound
from kit.events.topics import SPEAKER_INDEX
from services.embedding.events.handlers import enrollment_request
from tests.unit.test_embedding_use_cases import TENANT, World, spoken
from timbre.v1 import events_pb2


def objects_of(world: World, voice_id: str) -> dict[str, bytes]:
    keys = world.store.list(f"samples/{TENANT}/{voice_id}/") + world.store.list(f"consents/{TENANT}/{voice_id}/")
    return {key: world.store.get(key) for key in keys}


def last_index_record(world: World, voice_id: str):
    return [e for e in world.uow.state.events if e.topic == SPEAKER_INDEX.name and e.key == voice_id][-1]


def test_samples_and_consent_recordings_are_stored_sealed_with_the_voices_own_key():
    world = World()
    voice = world.enrolled(TENANT, 200)
    challenge, _ = spoken(world, voice, 200)

    stored = objects_of(world, voice.id)
    assert len(stored) == 2 and f"consents/{TENANT}/{voice.id}/{challenge.id}" in stored
    assert all(is_sealed(blob) for blob in stored.values())
    wrapped = world.uow.state.data_keys[voice.id]
    assert (wrapped.tenant_id, wrapped.kek_id) == (TENANT, "k1")
    opened = {key.split("/")[0]: world.voices.vault.open(wrapped, key, blob)[:4] for key, blob in stored.items()}
    assert opened == {"samples": b"fLaC", "consents": b"RIFF"}


@pytest.mark.parametrize("how", ["delete", "revoke"])
def test_deleting_or_revoking_shreds_the_key_tombstones_the_index_and_clears_the_embedding(how):
    world = World()
    voice = world.enrolled(TENANT, 200)
    spoken(world, voice, 200)
    backup = objects_of(world, voice.id)  # a copy taken before, as a backup would hold

    if how == "delete":
        world.voices.delete(TENANT, voice.id)
        with world.uow.begin() as tx:
            world.voices.voice_deleted(tx, TENANT, voice.id)
    else:
        world.consents.revoke(TENANT, voice.id)
        world.voices.consent_revoked(TENANT, voice.id)

    assert voice.id not in world.uow.state.data_keys
    assert world.uow.state.voices[voice.id].embedding is None
    assert last_index_record(world, voice.id).payload is None  # a tombstone, after the last VoiceEmbedding
    assert world.index.search(voice.embedding, 0.0) == []
    assert objects_of(world, voice.id) == {}  # the clean-up removed the objects too
    for key, blob in backup.items():
        with pytest.raises(DataKeyShredded):
            world.voices.vault.open(world.uow.state.data_keys.get(voice.id), key, blob)


def test_a_failed_enrollment_stores_no_key_and_no_sample():
    world = World()
    world.uow.fail_commit = RuntimeError("database gone")
    with pytest.raises(RuntimeError):
        world.upload(TENANT, 200)
    assert world.uow.state.data_keys == {} and world.store.list("samples/") == []


def test_the_analysis_of_a_voice_shredded_meanwhile_finds_nothing_to_read():
    world = World()
    voice = world.upload(TENANT, 200)
    with world.uow.begin() as tx:
        tx.data_keys.delete_data_key(voice.id)  # as a deletion racing the analysis would
    sent = world.uow.events(events_pb2.VoiceEnrollmentRequested)[-1]
    assert world.voices.analyse_enrollment(enrollment_request(sent)) is None


def test_samples_stored_before_encryption_at_rest_are_still_analysed():
    world = World()
    voice = world.upload(TENANT, 200)
    for key in world.store.list(f"samples/{TENANT}/{voice.id}/"):  # as a pre-encryption object would be
        world.store.put(key, world.voices.vault.get(world.uow.state.data_keys[voice.id], key))
    del world.uow.state.data_keys[voice.id]
    assert world.analyse(voice).status == "ready"


def test_a_rejected_voice_keeps_neither_its_samples_nor_their_key():
    world = World()
    voice = world.upload(TENANT, 200, seconds=1.0)  # too little speech: rejected
    assert world.analyse(voice).status == "rejected"
    with world.uow.begin() as tx:
        world.voices.voice_rejected(tx, TENANT, voice.id)
    assert voice.id not in world.uow.state.data_keys and objects_of(world, voice.id) == {}


def test_the_build_reads_a_sample_decrypted_and_only_the_voices_own_samples_while_it_exists():
    world = World()
    voice = world.enrolled(TENANT, 200)
    other = world.enrolled(TENANT, 400)
    key = world.store.list(f"samples/{TENANT}/{voice.id}/")[0]
    assert world.voices.read_sample(voice.id, key)[:4] == b"fLaC"
    for voice_id, object_key in ((other.id, key), (voice.id, f"consents/{TENANT}/{voice.id}/x"), ("nope", key)):
        with pytest.raises(NotFound):
            world.voices.read_sample(voice_id, object_key)
    world.voices.delete(TENANT, voice.id)
    with pytest.raises(NotFound):
        world.voices.read_sample(voice.id, key)


def test_a_revoked_voices_samples_are_not_served_even_before_the_clean_up():
    world = World()
    voice = world.enrolled(TENANT, 200)
    spoken(world, voice, 200)
    key = world.store.list(f"samples/{TENANT}/{voice.id}/")[0]
    world.consents.revoke(TENANT, voice.id)
    assert world.store.exists(key)  # the clean-up consumer has not run yet
    with pytest.raises(NotFound):
        world.voices.read_sample(voice.id, key)
