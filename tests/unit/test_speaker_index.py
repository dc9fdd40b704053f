import numpy as np
import pytest

from services.embedding.index.speaker_index import SpeakerIndex


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_upsert_search_remove_and_authorisations():
    rng = np.random.default_rng(0)
    index = SpeakerIndex(dim=16)
    a, b = unit(rng.standard_normal(16)), unit(rng.standard_normal(16))
    index.upsert("va", "ta", a)
    index.upsert("vb", "tb", b, frozenset({"tc"}))
    hits = index.search(a, threshold=0.9)
    assert [(m.voice_id, m.tenant_id) for m in hits] == [("va", "ta")] and hits[0].score == pytest.approx(1.0)
    index.upsert("vb", "tb", b, frozenset())  # an update replaces, never duplicates
    assert len(index) == 2 and index.search(b, 0.9)[0].authorized_tenants == frozenset()
    assert index.remove("va") and not index.remove("va")
    assert index.search(a, 0.9) == []
    with pytest.raises(ValueError):
        index.upsert("vx", "t", np.zeros(8, np.float32))


def test_switches_to_ivf_past_the_threshold_and_still_finds_and_removes():
    rng = np.random.default_rng(1)
    index = SpeakerIndex(dim=32, ivf_threshold=2000, nprobe=32)
    vectors = unit(rng.standard_normal((2500, 32)))
    for i, v in enumerate(vectors):
        index.upsert(f"v{i}", f"t{i % 5}", v)
    assert "IVF" in type(index._index).__name__
    found = sum(index.search(v, 0.99)[0].voice_id == f"v{i}" for i, v in enumerate(vectors[:200]))
    assert found >= 198
    index.remove("v3")
    assert all(m.voice_id != "v3" for m in index.search(vectors[3], 0.5))
