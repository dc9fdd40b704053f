"""FAISS inner-product search over L2-normalised embeddings (cosine similarity).

Exact search (IndexFlatIP) while the index is small; past `ivf_threshold` voices it rebuilds as
IVF-Flat (nlist ≈ 4·√N, nprobe tuned in bench/index_search.py) — the structure that keeps p99 in
milliseconds at a million voices while recall@1 stays ≥ 0.99. Both support removal by id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import faiss
import numpy as np

from services.embedding.domain.duplicates import Match


@dataclass
class Entry:
    voice_id: str
    tenant_id: str
    vector: np.ndarray
    authorized_tenants: frozenset[str]


class SpeakerIndex:
    def __init__(self, dim: int, ivf_threshold: int = 200_000, nprobe: int = 24) -> None:
        self.dim = dim
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self._lock = threading.RLock()
        self._entries: dict[int, Entry] = {}
        self._ids: dict[str, int] = {}
        self._next_id = 1
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return len(self._entries)

    def upsert(
        self, voice_id: str, tenant_id: str, vector: np.ndarray, authorized: frozenset[str] = frozenset()
    ) -> None:
        vector = np.asarray(vector, np.float32).reshape(1, -1)
        if vector.shape[1] != self.dim:
            raise ValueError(f"embedding has {vector.shape[1]} dimensions; the index holds {self.dim}")
        with self._lock:
            self.remove(voice_id)
            internal = self._next_id
            self._next_id += 1
            self._ids[voice_id] = internal
            self._entries[internal] = Entry(voice_id, tenant_id, vector[0].copy(), authorized)
            self._index.add_with_ids(vector, np.array([internal], np.int64))
            if isinstance(self._index, faiss.IndexIDMap2) and len(self._entries) >= self.ivf_threshold:
                self._rebuild_ivf()

    def remove(self, voice_id: str) -> bool:
        with self._lock:
            internal = self._ids.pop(voice_id, None)
            if internal is None:
                return False
            del self._entries[internal]
            # faiss's stubs know only remove_ids(IDSelector); its Python wrapper also takes an id array.
            self._index.remove_ids(np.array([internal], np.int64))  # type: ignore[arg-type]
            return True

    def search(self, vector: np.ndarray, threshold: float, k: int = 10) -> list[Match]:
        query = np.asarray(vector, np.float32).reshape(1, -1)
        with self._lock:
            if not self._entries:
                return []
            scores, ids = self._index.search(query, min(k, len(self._entries)))
            return [
                Match(e.voice_id, e.tenant_id, float(score), e.authorized_tenants)
                for score, internal in zip(scores[0], ids[0], strict=True)
                if internal >= 0 and score >= threshold and (e := self._entries.get(int(internal))) is not None
            ]

    def snapshot(self) -> dict[str, tuple[str, bytes, frozenset[str]]]:
        """voice id → (tenant, embedding bytes, authorised tenants): for comparing replicas."""
        with self._lock:
            return {e.voice_id: (e.tenant_id, e.vector.tobytes(), e.authorized_tenants) for e in self._entries.values()}

    def _rebuild_ivf(self) -> None:
        internals = np.array(list(self._entries), np.int64)
        vectors = np.stack([self._entries[int(i)].vector for i in internals])
        nlist = int(4 * np.sqrt(len(internals)))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.add_with_ids(vectors, internals)
        ivf.nprobe = self.nprobe
        self._index = ivf
