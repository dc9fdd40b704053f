"""The `DataKeyStore` port in memory: one wrapped data key per voice."""

from __future__ import annotations

from kit.crypto import KekRing, VoiceVault, WrappedKey
from kit.storage import ObjectStore

TEST_KEK = bytes(range(32))


def fake_vault(store: ObjectStore) -> VoiceVault:
    """A vault over `store` with a fixed test KEK."""
    return VoiceVault(store, KekRing("test", {"test": TEST_KEK}))


class FakeDataKeys:
    def __init__(self, keys: dict[str, WrappedKey] | None = None) -> None:
        self.keys: dict[str, WrappedKey] = {} if keys is None else keys  # a unit of work's state shares its dict

    def data_key(self, voice_id: str) -> WrappedKey | None:
        return self.keys.get(voice_id)

    def add_data_key(self, key: WrappedKey) -> WrappedKey:
        return self.keys.setdefault(key.voice_id, key)

    def delete_data_key(self, voice_id: str) -> bool:
        return self.keys.pop(voice_id, None) is not None

    def all_data_keys(self) -> list[WrappedKey]:
        return list(self.keys.values())

    def replace_data_key(self, key: WrappedKey) -> None:
        if key.voice_id in self.keys:
            self.keys[key.voice_id] = key
