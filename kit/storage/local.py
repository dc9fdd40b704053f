"""Object store in a local directory. Writes are atomic (temp file + rename); metadata sits beside."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kit.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, validate_key

_META = ".meta.json"


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put(self, key, data, content_type="application/octet-stream", metadata=None) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"content_type": content_type, "metadata": metadata or {}}
        for target, payload in ((path, data), (Path(str(path) + _META), json.dumps(meta).encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, target)
        return ObjectInfo(key, len(data), content_type, metadata or {})

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as file:
                file.seek(offset)
                return file.read(-1 if length is None else length)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        meta_path = Path(str(path) + _META)
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return ObjectInfo(
            key, path.stat().st_size, meta.get("content_type", "application/octet-stream"), meta.get("metadata", {})
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        for target in (path, Path(str(path) + _META)):
            target.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        keys = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.endswith(_META) and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def list_sizes(self, prefix: str) -> Sequence[tuple[str, int]]:
        sizes = []
        for key in self.list(prefix):
            try:
                sizes.append((key, (self.root / key).stat().st_size))
            except FileNotFoundError:  # deleted since the listing
                continue
        return sizes

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        return self._path(key).as_uri()
