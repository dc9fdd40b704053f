"""The S3 backend against a real S3-protocol server (moto), started by the test run."""

from __future__ import annotations

import uuid

import httpx
import pytest

from devstack import infra as stack_infra
from devstack.stack import S3_PORT, state_paths
from kit.storage.base import ObjectNotFound
from kit.storage.s3 import S3ObjectStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> S3ObjectStore:
    endpoint = stack_infra.s3_up(state_paths(), S3_PORT)
    return S3ObjectStore(endpoint, "timbre", "timbre-local", f"test-{uuid.uuid4().hex[:8]}")


def test_put_get_stat_list_delete_and_presigned_url(store):
    data = bytes(range(256)) * 4096  # 1 MiB
    store.put("models/t1/v1/speaker.pth", data, "application/octet-stream", {"sha256": "abc"})
    store.put("models/t1/v2/speaker.pth", b"x")
    assert store.get("models/t1/v1/speaker.pth") == data
    info = store.stat("models/t1/v1/speaker.pth")
    assert (info.size, info.metadata.get("sha256")) == (len(data), "abc")
    assert store.list("models/t1/") == ["models/t1/v1/speaker.pth", "models/t1/v2/speaker.pth"]
    assert httpx.get(store.url("models/t1/v2/speaker.pth", 60)).content == b"x"
    assert store.delete_prefix("models/t1/") == 2
    with pytest.raises(ObjectNotFound):
        store.get("models/t1/v1/speaker.pth")
    with pytest.raises(ObjectNotFound):
        store.stat("models/t1/v1/speaker.pth")
    store.delete("models/t1/v1/speaker.pth")


def test_invalid_keys_are_refused(store):
    with pytest.raises(ValueError):
        store.put("../escape", b"x")
