"""The object-store port: what services may do with blobs (samples, artifacts, audio)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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


class ObjectStore(Protocol):
    """Adapters: kit.storage.local (a folder) and kit.storage.s3; tests use tests.fakes.storage."""

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo: ...

    def get(self, key: str) -> bytes: ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """`length` bytes from `offset` (to the end when None), without loading the whole object where the
        backend can seek (downloads of long job audio are served in chunks)."""
        ...

    def stat(self, key: str) -> ObjectInfo: ...

    def delete(self, key: str) -> None:
        """Deleting a missing key is not an error (deletes are retried)."""

    def list(self, prefix: str) -> list[str]: ...

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        """A URL the holder can GET the object from (presigned for S3, file:// for local)."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
            return True
        except ObjectNotFound:
            return False

    def list_sizes(self, prefix: str) -> Sequence[tuple[str, int]]:
        """(key, size in bytes) of every object under `prefix`, by key: what storage-usage reports sum.
        The adapters answer from one listing; this default stats each key."""
        return [(key, self.stat(key).size) for key in self.list(prefix)]

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)
