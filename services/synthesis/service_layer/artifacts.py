"""Voice artifacts in object storage (models/{tenant}/{voice}/speaker.pth), cached per worker."""

from __future__ import annotations

import threading
from collections import OrderedDict

from kit.storage import ObjectStore
from kit.storage.keys import artifact_key, artifact_prefix


class Artifacts:
    def __init__(self, store: ObjectStore, cache_size: int = 16) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, tenant_id: str, voice_id: str, artifact: bytes) -> str:
        key = artifact_key(tenant_id, voice_id)
        self.store.put(key, artifact, "application/octet-stream")
        self.forget(tenant_id, voice_id)
        return key

    def get(self, key: str) -> bytes:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = self.store.get(key)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data

    def remove(self, tenant_id: str, voice_id: str) -> int:
        self.forget(tenant_id, voice_id)
        return self.store.delete_prefix(artifact_prefix(tenant_id, voice_id))

    def forget(self, tenant_id: str, voice_id: str) -> None:
        with self._lock:
            self._cache.pop(artifact_key(tenant_id, voice_id), None)
