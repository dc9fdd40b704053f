"""The object-store port: what services may do with blobs (samples, artifacts, audio)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,1023}$")


class ObjectNotFound(KeyError):
    pass


def validate_key(key: str) -> str:
    """Keys are relative, without '..' segments or empty parts, so no backend can escape its root."""
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key: {key!r}")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    metadata: dict[str, str]


class ObjectStore(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Deleting a missing key is not an error (deletes are retried)."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def url(self, key: str, expires_seconds: int = 3600) -> str:
        """A URL the holder can GET the object from (presigned for S3, file:// for local)."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
            return True
        except ObjectNotFound:
            return False

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)
