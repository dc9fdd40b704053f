import pytest

from kit.storage.base import ObjectNotFound
from kit.storage.local import LocalObjectStore


def test_put_get_stat_list_delete(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put("samples/t1/v1/a.wav", b"RIFF", "audio/wav", {"sha256": "abc"})
    store.put("samples/t1/v2/b.wav", b"RIFF2")
    assert store.get("samples/t1/v1/a.wav") == b"RIFF"
    info = store.stat("samples/t1/v1/a.wav")
    assert (info.size, info.content_type, info.metadata) == (4, "audio/wav", {"sha256": "abc"})
    assert store.list("samples/t1/") == ["samples/t1/v1/a.wav", "samples/t1/v2/b.wav"]
    assert store.delete_prefix("samples/t1/v1/") == 1
    assert not store.exists("samples/t1/v1/a.wav")
    store.delete("samples/t1/v1/a.wav")  # deleting twice is fine
    with pytest.raises(ObjectNotFound):
        store.get("samples/t1/v1/a.wav")
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../../b", "", "a/./b", "with space"])
def test_keys_cannot_escape_the_root(tmp_path, key):
    with pytest.raises(ValueError):
        LocalObjectStore(tmp_path).put(key, b"x")
