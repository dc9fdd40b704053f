"""AES-256-GCM blobs and key wrapping (`cryptography`'s AESGCM; nothing hand-rolled).

A sealed blob is ``MAGIC (4) | version (1) | nonce (12) | ciphertext+tag``. The associated data is the
object's key, so a blob copied under another key (another voice's, another tenant's) does not open.
Objects written before encryption have no header and are read as they are (`is_sealed` tells them
apart: no audio or zip file starts with the magic).

A data key is wrapped the same way under a key-encryption key (KEK), with the voice id as associated
data, so a wrapped key moved to another voice's row does not unwrap. The ring holds the current KEK
(new wraps) and retired ones (unwrap only), named by id: rotation rewraps rows, never objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TMB\x00"
VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
HEADER_BYTES = len(MAGIC) + 1 + NONCE_BYTES
_WRAP_CONTEXT = b"timbre-dek-wrap/v1:"


class CryptoError(Exception):
    """A blob or a wrapped key could not be opened."""


class BlobTampered(CryptoError):
    """Authentication failed: the ciphertext, its header or its associated data changed, or the key is wrong."""


class UnknownKek(CryptoError):
    """A data key is wrapped under a KEK this process does not hold (retired too long ago, or misconfigured)."""


@dataclass(frozen=True)
class DataKey:
    """A voice's plaintext data key (never stored or logged as is)."""

    voice_id: str
    key: bytes

    def __repr__(self) -> str:  # keep the key out of tracebacks and logs
        return f"DataKey(voice_id={self.voice_id!r})"


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: wrapped under the KEK `kek_id`."""

    voice_id: str
    tenant_id: str
    kek_id: str
    wrapped: bytes


def new_data_key(voice_id: str) -> DataKey:
    return DataKey(voice_id, AESGCM.generate_key(bit_length=KEY_BYTES * 8))


def is_sealed(blob: bytes) -> bool:
    return blob[: len(MAGIC)] == MAGIC


def seal_blob(key: bytes, plaintext: bytes, associated: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: far below the birthday bound per voice key
    header = MAGIC + bytes([VERSION]) + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, header + associated.encode())


def open_blob(key: bytes, blob: bytes, associated: str) -> bytes:
    if not is_sealed(blob) or len(blob) < HEADER_BYTES:
        raise BlobTampered("not a sealed blob")
    if blob[len(MAGIC)] != VERSION:
        raise CryptoError(f"unknown sealed-blob version {blob[len(MAGIC)]}")
    header, body = blob[:HEADER_BYTES], blob[HEADER_BYTES:]
    try:
        return AESGCM(key).decrypt(header[len(MAGIC) + 1 :], body, header + associated.encode())
    except InvalidTag as exc:
        raise BlobTampered("the sealed blob does not authenticate (tampered, wrong key or wrong object)") from exc


class KekRing:
    """The deployment's key-encryption keys: `current_id` wraps, every key in the ring unwraps."""

    def __init__(self, current_id: str, keks: Mapping[str, bytes]) -> None:
        if current_id not in keks:
            raise ValueError(f"the current KEK {current_id!r} is not in the ring")
        for kek_id, kek in keks.items():
            if len(kek) != KEY_BYTES:
                raise ValueError(f"KEK {kek_id!r} must be {KEY_BYTES} bytes")
        self.current_id = current_id
        self._keks = dict(keks)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._keks)

    def __repr__(self) -> str:
        return f"KekRing(current_id={self.current_id!r}, ids={sorted(self._keks)!r})"

    def wrap(self, data_key: DataKey, tenant_id: str) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        kek = self._keks[self.current_id]
        sealed = AESGCM(kek).encrypt(nonce, data_key.key, self._context(data_key.voice_id, self.current_id))
        return WrappedKey(data_key.voice_id, tenant_id, self.current_id, nonce + sealed)

    def unwrap(self, wrapped: WrappedKey) -> DataKey:
        kek = self._keks.get(wrapped.kek_id)
        if kek is None:
            raise UnknownKek(
                f"the data key of voice {wrapped.voice_id} is wrapped under KEK {wrapped.kek_id!r}, which is not "
                f"configured (known: {', '.join(sorted(self._keks))}); add it to TIMBRE_DATA_KEKS_RETIRED"
            )
        nonce, sealed = wrapped.wrapped[:NONCE_BYTES], wrapped.wrapped[NONCE_BYTES:]
        try:
            key = AESGCM(kek).decrypt(nonce, sealed, self._context(wrapped.voice_id, wrapped.kek_id))
        except InvalidTag as exc:
            raise BlobTampered(
                f"the data key of voice {wrapped.voice_id} does not unwrap under {wrapped.kek_id!r}"
            ) from exc
        return DataKey(wrapped.voice_id, key)

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key wrapped under the current KEK (objects stay as they are)."""
        if wrapped.kek_id == self.current_id:
            return wrapped
        return self.wrap(self.unwrap(wrapped), wrapped.tenant_id)

    @staticmethod
    def _context(voice_id: str, kek_id: str) -> bytes:
        return _WRAP_CONTEXT + kek_id.encode() + b":" + voice_id.encode()
