"""Object storage with two backends: a local directory (embedded default) and S3 (minio client)."""

from kit.storage.base import ObjectNotFound, ObjectStore, validate_key
from kit.storage.factory import open_store

__all__ = ["ObjectNotFound", "ObjectStore", "open_store", "validate_key"]
