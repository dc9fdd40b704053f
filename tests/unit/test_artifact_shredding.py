"""Synthesis's voice artifacts at rest (on fakes): sealed with synthesis's own per-voice data key; a deletion
or revocation shreds the key in the consumer's transaction, and no worker speaks with the voice again,
even one whose cache still holds it."""

from __future__ import annotations

import pytest

from kit.crypto import DataKeyShredded, is_sealed
from kit.errors import FailedPrecondition, NotFound
from kit.storage import ObjectNotFound
from kit.storage.keys import artifact_key
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.service_layer.speech import Speaker
from services.synthesis.service_layer.voice_builds import BuildOutcome, BuildRequest, VoiceRef
from tests.fakes.data_keys import fake_vault
from tests.unit import test_synthesis_use_cases as use_cases
from tests.unit.test_synthesis_use_cases import CALLER, SEGMENT_SECONDS, TENANT, World

world = use_cases.world  # the synthesis use cases' fixture: a voice built and consented


def other_worker(w: World) -> tuple[Artifacts, Speaker]:
    """A second worker over the same database and bucket, with its own voice cache."""
    artifacts = Artifacts(w.store, w.engine, 4, vault=fake_vault(w.store), uow=w.uow)
    return artifacts, Speaker(w.uow, artifacts, w.engine, w.marker, w.quotas, SEGMENT_SECONDS, 1800, w.clock)


def test_the_artifact_is_stored_sealed_with_the_voices_key_and_still_speaks(world):
    w = world
    stored = w.store.get(artifact_key(TENANT, w.voice_id))
    assert is_sealed(stored) and b"artifact-" not in stored
    assert w.uow.tables.data_keys[w.voice_id].tenant_id == TENANT
    assert w.speaker.synthesize(CALLER, w.request()).audio


@pytest.mark.parametrize("how", ["deleted", "consent_revoked"])
def test_deletion_or_revocation_shreds_the_key_and_no_worker_speaks_with_the_voice(world, how):
    w = world
    _, second = other_worker(w)
    assert second.synthesize(CALLER, w.request()).audio  # the second worker's cache now holds the voice
    backup = w.store.get(artifact_key(TENANT, w.voice_id))

    repo = w.uow.joined()
    getattr(w.builds, how)(repo, VoiceRef(w.voice_id, TENANT))
    w.uow.commit(repo)

    assert w.voice_id not in w.uow.tables.data_keys
    assert not w.store.exists(artifact_key(TENANT, w.voice_id))
    with pytest.raises(DataKeyShredded):
        w.artifacts.vault.open(None, artifact_key(TENANT, w.voice_id), backup)
    for speaker in (w.speaker, second):
        with pytest.raises((NotFound, FailedPrecondition)):
            speaker.synthesize(CALLER, w.request())


def test_a_build_that_finishes_after_the_deletion_leaves_no_key_behind(world):
    w = world
    repo = w.uow.joined()
    w.builds.deleted(repo, VoiceRef(w.voice_id, TENANT))
    key = w.artifacts.put(TENANT, w.voice_id, b"late artifact")  # the build's put creates a key again...
    assert w.voice_id in w.uow.tables.data_keys

    w.builds.apply_build(repo, BuildRequest(w.voice_id, TENANT, ()), BuildOutcome(artifact_key=key))

    assert w.voice_id not in w.uow.tables.data_keys and not w.store.exists(key)  # ...which its outcome shreds


def test_a_build_whose_samples_are_gone_fails_as_not_ready(world):
    w = world

    class Shredded:
        """Embedding answers NOT_FOUND for a deleted or revoked voice's samples."""

        def read(self, voice_id: str, object_key: str) -> bytes:
            raise ObjectNotFound(object_key)

    w.builds.samples = Shredded()
    outcome = w.builds.build(BuildRequest(w.voice_id, TENANT, (f"samples/{TENANT}/{w.voice_id}/00.flac",)))
    assert (outcome.reason, outcome.artifact_key) == ("VOICE_NOT_READY", "")
