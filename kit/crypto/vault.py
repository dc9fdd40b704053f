"""Voice objects sealed with the voice's data key before they reach the object store.

A service keeps its own voices' wrapped data keys (its `data_keys` table, behind the `DataKeyStore`
port) and never reads another service's. Writing gets or creates the key in the caller's transaction;
reading takes the wrapped key the caller looked up. Deleting the key row is the shredding: the objects
(and every copy of them, e.g. in backups) can no longer be opened, whether or not their deletion from
the bucket succeeded.

Objects written before encryption carry no header and are returned as they are; a sealed object whose
key is gone raises `DataKeyShredded`.
"""

from __future__ import annotations

from typing import Protocol

from kit.crypto.envelope import CryptoError, DataKey, KekRing, WrappedKey, is_sealed, new_data_key, open_blob, seal_blob
from kit.storage.base import ObjectInfo, ObjectStore


class DataKeyShredded(CryptoError):
    """The voice's data key was deleted (voice deleted or consent revoked): its objects are unreadable."""


class DataKeyStore(Protocol):
    """A service's wrapped data keys, one per voice (adapters: each service's `data_keys` repository)."""

    def data_key(self, voice_id: str) -> WrappedKey | None: ...

    def add_data_key(self, key: WrappedKey) -> WrappedKey:
        """Stores `key` unless the voice has one already; returns the one stored (a concurrent writer's wins)."""

    def delete_data_key(self, voice_id: str) -> bool:
        """Shreds the voice's key; True if there was one."""


class VoiceVault:
    def __init__(self, store: ObjectStore, ring: KekRing) -> None:
        self.store = store
        self.ring = ring

    def new_key(self, voice_id: str, tenant_id: str) -> tuple[DataKey, WrappedKey]:
        """A fresh data key and its wrapped form (store the latter in the transaction that creates the voice)."""
        data_key = new_data_key(voice_id)
        return data_key, self.ring.wrap(data_key, tenant_id)

    def key_for(self, keys: DataKeyStore, voice_id: str, tenant_id: str) -> DataKey:
        """The voice's data key, created (and stored through `keys`) on first use."""
        wrapped = keys.data_key(voice_id)
        if wrapped is None:
            wrapped = keys.add_data_key(self.new_key(voice_id, tenant_id)[1])
        return self.ring.unwrap(wrapped)

    def put(
        self,
        data_key: DataKey,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        return self.store.put(key, seal_blob(data_key.key, data, key), content_type, metadata)

    def get(self, wrapped: WrappedKey | None, key: str) -> bytes:
        """The object's plaintext; `wrapped` is the voice's key as looked up (None: there is none)."""
        return self.open(wrapped, key, self.store.get(key))

    def open(self, wrapped: WrappedKey | None, key: str, blob: bytes) -> bytes:
        if not is_sealed(blob):
            return blob  # written before encryption at rest
        if wrapped is None:
            raise DataKeyShredded(f"the data key of {key} was deleted: the object is unreadable")
        return open_blob(self.ring.unwrap(wrapped).key, blob, key)
