"""Ranged reads, which chunked job-audio downloads rely on, on the local adapter and the fake."""

from __future__ import annotations

import pytest

from kit.storage import ObjectNotFound
from kit.storage.local import LocalObjectStore
from tests.fakes.storage import FakeObjectStore


@pytest.fixture(params=["local", "fake"])
def store(request, tmp_path):
    return LocalObjectStore(tmp_path) if request.param == "local" else FakeObjectStore()


def test_read_returns_the_asked_range(store):
    data = bytes(range(256)) * 4
    store.put("jobs/t/j/audio.wav", data)
    assert store.read("jobs/t/j/audio.wav") == data
    assert store.read("jobs/t/j/audio.wav", 10, 5) == data[10:15]
    assert store.read("jobs/t/j/audio.wav", 1000) == data[1000:]
    assert store.read("jobs/t/j/audio.wav", 1020, 100) == data[1020:]


def test_read_of_a_missing_key_is_not_found(store):
    with pytest.raises(ObjectNotFound):
        store.read("jobs/t/j/none.wav", 0, 10)
