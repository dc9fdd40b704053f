"""Voice artifacts in object storage (models/{tenant}/{voice}/speaker.pth), loaded once per worker."""

from __future__ import annotations

from typing import Any

from kit.storage import ObjectStore
from kit.storage.keys import artifact_key, artifact_prefix
from services.synthesis.domain.voices import VoiceState
from services.synthesis.engine.voice_cache import VoiceCache
from services.synthesis.service_layer.ports import VoiceEngine


class Artifacts:
    def __init__(self, store: ObjectStore, engine: VoiceEngine, cache_size: int = 32) -> None:
        self.store = store
        self.cache = VoiceCache(engine.load_voice, cache_size)

    def put(self, tenant_id: str, voice_id: str, artifact: bytes) -> str:
        key = artifact_key(tenant_id, voice_id)
        self.store.put(key, artifact, "application/octet-stream")
        self.cache.forget(key)
        return key

    def voice(self, state: VoiceState) -> Any:
        """The built voice, loaded and ready for the engine (kept for the next request)."""
        return self.cache.get(state.artifact_key, state.artifact_version, lambda: self.store.get(state.artifact_key))

    def remove(self, tenant_id: str, voice_id: str) -> int:
        self.cache.forget(artifact_key(tenant_id, voice_id))
        return self.store.delete_prefix(artifact_prefix(tenant_id, voice_id))
