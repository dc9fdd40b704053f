"""Object store on any S3-compatible server through the minio client."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from minio import Minio
from minio.error import S3Error

from kit.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, validate_key

_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}


@contextmanager
def _not_found_as(key: str) -> Iterator[None]:
    """S3's "no such key" errors become ObjectNotFound; others pass through."""
    try:
        yield
    except S3Error as exc:
        if exc.code in _MISSING:
            raise ObjectNotFound(key) from exc
        raise


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
    ) -> None:
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self.bucket = bucket
        if not self.client.bucket_exists(bucket):
            self.client.make_bucket(bucket)

    def put(self, key, data, content_type="application/octet-stream", metadata=None) -> ObjectInfo:
        self.client.put_object(
            self.bucket,
            validate_key(key),
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=metadata or {},
        )
        return ObjectInfo(key, len(data), content_type, metadata or {})

    def get(self, key: str) -> bytes:
        with _not_found_as(key):
            response = self.client.get_object(self.bucket, validate_key(key))
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        if length == 0:
            return b""
        with _not_found_as(key):
            response = self.client.get_object(self.bucket, validate_key(key), offset=offset, length=length or 0)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        with _not_found_as(key):
            info = self.client.stat_object(self.bucket, validate_key(key))
        metadata = {
            k[len("x-amz-meta-") :].lower(): v
            for k, v in (info.metadata or {}).items()
            if k.lower().startswith("x-amz-meta-")
        }
        return ObjectInfo(key, info.size or 0, info.content_type or "application/octet-stream", metadata)

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, validate_key(key))

    def list(self, prefix: str) -> list[str]:
        return sorted(o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))

    def list_sizes(self, prefix: str) -> Sequence[tuple[str, int]]:
        # The listing carries each object's size: one paged LIST, no HEAD per object.
        listing = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return sorted((o.object_name, o.size or 0) for o in listing if o.object_name)

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        return self.client.presigned_get_object(
            self.bucket, validate_key(key), expires=timedelta(seconds=expires_seconds)
        )
