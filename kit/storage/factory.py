"""Choose the object-store backend from settings."""

from __future__ import annotations

from kit.config import KitSettings
from kit.storage.base import ObjectStore


def open_store(settings: KitSettings) -> ObjectStore:
    if settings.storage_backend == "s3":
        from kit.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    from kit.storage.local import LocalObjectStore

    return LocalObjectStore(settings.storage_root)
