"""Voice artifacts in object storage (models/{tenant}/{voice}/speaker.pth), sealed with the voice's data key
(kit/crypto; synthesis keeps its own keys) and loaded once per worker.

Deleting the voice's key (on VoiceDeleted / ConsentRevoked, in the consumer's transaction) shreds the
artifact, copies in backups included. A worker's cache is keyed by the artifact's version, which a
deletion or revocation clears in the voice's state, and every request reads that state first: no worker
keeps speaking with a shredded voice, even one that still holds it in memory.
"""

from __future__ import annotations

from typing import Any

from kit.crypto import VoiceVault
from kit.storage import ObjectStore
from kit.storage.keys import artifact_key, artifact_prefix
from services.synthesis.domain.voices import VoiceState
from services.synthesis.engine.voice_cache import VoiceCache
from services.synthesis.service_layer.ports import Repository, UnitOfWork, VoiceEngine


class Artifacts:
    def __init__(
        self, store: ObjectStore, engine: VoiceEngine, cache_size: int = 32, *, vault: VoiceVault, uow: UnitOfWork
    ) -> None:
        self.store = store
        self.vault = vault
        self.uow = uow
        self.cache = VoiceCache(engine.load_voice, cache_size)

    def put(self, tenant_id: str, voice_id: str, artifact: bytes) -> str:
        key = artifact_key(tenant_id, voice_id)
        with self.uow.begin() as repo:
            data_key = self.vault.key_for(repo.data_keys, voice_id, tenant_id)
        self.vault.put(data_key, key, artifact, "application/octet-stream")
        self.cache.forget(key)
        return key

    def voice(self, state: VoiceState) -> Any:
        """The built voice, loaded and ready for the engine (kept for the next request)."""
        return self.cache.get(state.artifact_key, state.artifact_version, lambda: self._read(state))

    def _read(self, state: VoiceState) -> bytes:
        with self.uow.read() as repo:
            wrapped = repo.data_keys.data_key(state.voice_id)
        return self.vault.get(wrapped, state.artifact_key)

    def remove(self, repo: Repository, tenant_id: str, voice_id: str) -> int:
        """Shreds the voice's key in `repo`'s transaction, then deletes the objects (best effort: without
        the key they are unreadable anyway)."""
        repo.data_keys.delete_data_key(voice_id)
        self.cache.forget(artifact_key(tenant_id, voice_id))
        return self.store.delete_prefix(artifact_prefix(tenant_id, voice_id))
