"""An object store in a dict: what was put, read and deleted stays visible to the test."""

from __future__ import annotations

from kit.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, validate_key


class FakeObjectStore(ObjectStore):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, ObjectInfo]] = {}
        self.fail_puts: Exception | None = None  # set to make the next put raise (compensation paths)

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        if self.fail_puts is not None:
            error, self.fail_puts = self.fail_puts, None
            raise error
        info = ObjectInfo(validate_key(key), len(data), content_type, dict(metadata or {}))
        self.objects[key] = (bytes(data), info)
        return info

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[key][0]

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        data = self.get(key)
        return data[offset:] if length is None else data[offset : offset + length]

    def stat(self, key: str) -> ObjectInfo:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[key][1]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        self.stat(key)
        return f"memory://{key}"
