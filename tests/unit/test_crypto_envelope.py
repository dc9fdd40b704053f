"""kit/crypto: sealed blobs, key wrapping, KEK rotation, and the vault over an in-memory store."""

from __future__ import annotations

import os

import pytest

from kit.config import KitSettings
from kit.crypto import (
    BlobTampered,
    DataKeyShredded,
    KekRing,
    UnknownKek,
    VoiceVault,
    WrappedKey,
    is_sealed,
    new_data_key,
    open_blob,
    seal_blob,
)
from kit.errors import FailedPrecondition
from tests.fakes.data_keys import FakeDataKeys
from tests.fakes.storage import FakeObjectStore

KEY = "samples/t1/v1/00-abc.flac"


def ring(current: str = "k1", **keks: bytes) -> KekRing:
    return KekRing(current, keks or {current: os.urandom(32)})


def test_a_sealed_blob_round_trips_and_hides_the_plaintext():
    dek = new_data_key("v1")
    blob = seal_blob(dek.key, b"RIFF voice bytes", KEY)
    assert is_sealed(blob) and b"voice bytes" not in blob
    assert open_blob(dek.key, blob, KEY) == b"RIFF voice bytes"
    assert seal_blob(dek.key, b"RIFF voice bytes", KEY) != blob  # a fresh nonce each time


def test_any_flipped_byte_is_detected():
    dek = new_data_key("v1")
    blob = bytearray(seal_blob(dek.key, b"x" * 100, KEY))
    for at in (5, 10, len(blob) // 2, len(blob) - 1):  # version+nonce, body, tag
        tampered = bytearray(blob)
        tampered[at] ^= 0x01
        with pytest.raises(BlobTampered):
            open_blob(dek.key, bytes(tampered), KEY)


def test_a_blob_copied_under_another_key_does_not_open():
    dek = new_data_key("v1")
    blob = seal_blob(dek.key, b"data", KEY)
    with pytest.raises(BlobTampered):
        open_blob(dek.key, blob, "samples/t2/v1/00-abc.flac")


def test_another_voices_key_does_not_open_the_blob():
    blob = seal_blob(new_data_key("v1").key, b"data", KEY)
    with pytest.raises(BlobTampered):
        open_blob(new_data_key("v1").key, blob, KEY)


def test_a_wrapped_key_unwraps_only_for_its_voice():
    keks = ring()
    dek = new_data_key("v1")
    wrapped = keks.wrap(dek, "t1")
    assert wrapped.kek_id == "k1" and dek.key not in wrapped.wrapped
    assert keks.unwrap(wrapped).key == dek.key
    with pytest.raises(BlobTampered):
        keks.unwrap(WrappedKey("v2", "t1", wrapped.kek_id, wrapped.wrapped))


def test_rotation_rewraps_under_the_new_kek_and_the_old_one_can_retire():
    old, new = os.urandom(32), os.urandom(32)
    dek = new_data_key("v1")
    wrapped = KekRing("old", {"old": old}).wrap(dek, "t1")
    rotating = KekRing("new", {"new": new, "old": old})
    rewrapped = rotating.rewrap(wrapped)
    assert rewrapped.kek_id == "new" and rewrapped.wrapped != wrapped.wrapped
    after = KekRing("new", {"new": new})  # the old KEK removed from the deployment
    assert after.unwrap(rewrapped).key == dek.key
    with pytest.raises(UnknownKek, match="'old'.*TIMBRE_DATA_KEKS_RETIRED"):
        after.unwrap(wrapped)


def test_the_ring_refuses_short_keys_and_a_missing_current_kek():
    with pytest.raises(ValueError):
        KekRing("k1", {"k1": b"short"})
    with pytest.raises(ValueError):
        KekRing("k2", {"k1": os.urandom(32)})


def test_keys_never_show_in_reprs():
    dek = new_data_key("v1")
    assert dek.key.hex() not in repr(dek) and str(dek.key) not in repr(dek)


def test_settings_read_the_kek_as_hex_or_base64_and_retired_keks():
    import base64

    current, retired = os.urandom(32), os.urandom(32)
    settings = KitSettings(
        _env_file=None,
        data_kek=base64.b64encode(current).decode(),
        data_kek_id="k2",
        data_keks_retired=f"k1:{retired.hex()}",
    )
    keks = settings.kek_ring()
    assert keks.current_id == "k2" and keks.ids == {"k1", "k2"}
    dek = new_data_key("v1")
    assert keks.unwrap(KekRing("k1", {"k1": retired}).wrap(dek, "t")).key == dek.key


@pytest.mark.parametrize("value", [None, "abcd", "zz" * 32])
def test_settings_refuse_a_missing_or_malformed_kek(value):
    with pytest.raises(FailedPrecondition, match="TIMBRE_DATA_KEK"):
        KitSettings(_env_file=None, data_kek=value).kek_ring()


def test_the_vault_seals_on_put_opens_on_get_and_reads_legacy_plaintext():
    store, keys = FakeObjectStore(), FakeDataKeys()
    vault = VoiceVault(store, ring())
    dek = vault.key_for(keys, "v1", "t1")
    vault.put(dek, KEY, b"RIFF sample")
    assert is_sealed(store.get(KEY))
    assert vault.get(keys.data_key("v1"), KEY) == b"RIFF sample"
    store.put("samples/t1/v0/old.flac", b"fLaC written before encryption")
    assert vault.get(None, "samples/t1/v0/old.flac") == b"fLaC written before encryption"


def test_the_vault_keeps_one_key_per_voice():
    keys = FakeDataKeys()
    vault = VoiceVault(FakeObjectStore(), ring())
    assert vault.key_for(keys, "v1", "t1").key == vault.key_for(keys, "v1", "t1").key
    assert vault.key_for(keys, "v2", "t1").key != vault.key_for(keys, "v1", "t1").key


def test_a_shredded_key_leaves_every_copy_unreadable():
    store, keys = FakeObjectStore(), FakeDataKeys()
    vault = VoiceVault(store, ring())
    vault.put(vault.key_for(keys, "v1", "t1"), KEY, b"RIFF sample")
    backup = store.get(KEY)
    assert keys.delete_data_key("v1") and not keys.delete_data_key("v1")
    with pytest.raises(DataKeyShredded):
        vault.get(keys.data_key("v1"), KEY)
    with pytest.raises(DataKeyShredded):
        vault.open(keys.data_key("v1"), KEY, backup)


def test_a_truncated_blob_or_an_unknown_version_is_refused():
    from kit.crypto import CryptoError
    from kit.crypto.envelope import HEADER_BYTES, MAGIC

    dek = new_data_key("v1")
    blob = seal_blob(dek.key, b"data", KEY)
    with pytest.raises(BlobTampered):
        open_blob(dek.key, blob[: HEADER_BYTES - 1], KEY)
    with pytest.raises(BlobTampered):
        open_blob(dek.key, blob[:-1], KEY)
    with pytest.raises(CryptoError, match="version 9"):
        open_blob(dek.key, MAGIC + bytes([9]) + blob[len(MAGIC) + 1 :], KEY)
