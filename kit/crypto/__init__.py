"""Envelope encryption of voice data at rest: a data key (DEK) per voice seals its objects with
AES-256-GCM; the deployment's key-encryption key (KEK) wraps each DEK for storage. Deleting a voice's
wrapped DEK crypto-shreds every copy of its objects, backups included."""

from kit.crypto.envelope import (
    BlobTampered,
    CryptoError,
    DataKey,
    KekRing,
    UnknownKek,
    WrappedKey,
    is_sealed,
    new_data_key,
    open_blob,
    seal_blob,
)
from kit.crypto.vault import DataKeyShredded, VoiceVault

__all__ = [
    "BlobTampered",
    "CryptoError",
    "DataKey",
    "DataKeyShredded",
    "KekRing",
    "UnknownKek",
    "VoiceVault",
    "WrappedKey",
    "is_sealed",
    "new_data_key",
    "open_blob",
    "seal_blob",
]
