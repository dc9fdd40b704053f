"""Memory of the embedding service's speaker index per registered voice, as a replica holds it: the FAISS
index (exact, then IVF-Flat past TIMBRE_INDEX_IVF_THRESHOLD) plus the entries the duplicate check reads
(voice, tenant, vector, consented tenants). Baseline in the same run: the bare float32 vectors.

The figures size embedding replicas (docs/deploy.md): bytes per voice × voices = the resident memory
every replica needs, since each replica holds the whole index.

Usage: python -m bench.index_memory [--voices 200000,1000000]
"""

from __future__ import annotations

import argparse
import gc
import time
import uuid

import numpy as np

from bench.common import machine_facts
from services.embedding.index.speaker_index import SpeakerIndex

DIM = 192  # ECAPA


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def measure(voices: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """(bytes per voice in the index, bytes per bare vector, seconds to fill)."""
    gc.collect()
    before = rss_bytes()
    vectors = rng.standard_normal((voices, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    bare = rss_bytes() - before
    tenants = [str(uuid.uuid4()) for _ in range(max(1, voices // 50))]
    index = SpeakerIndex(DIM)
    started = time.monotonic()
    before = rss_bytes()
    for i in range(voices):
        index.upsert(str(uuid.uuid4()), tenants[i % len(tenants)], vectors[i])
    seconds = time.monotonic() - started
    held = rss_bytes() - before
    assert len(index) == voices
    del index, vectors
    gc.collect()
    return held / voices, bare / voices, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default="200000,1000000")
    args = parser.parse_args()
    print(f"machine: {machine_facts()}")
    rng = np.random.default_rng(3)
    print(f"{'voices':>10} {'index B/voice':>14} {'bare vector B':>14} {'ratio':>6} {'fill s':>7} {'index GiB':>10}")
    for voices in [int(v) for v in args.voices.split(",")]:
        per_voice, bare, seconds = measure(voices, rng)
        print(
            f"{voices:>10} {per_voice:>14.0f} {bare:>14.0f} {per_voice / bare:>6.2f} {seconds:>7.0f} "
            f"{per_voice * voices / 2**30:>10.2f}"
        )


if __name__ == "__main__":
    main()
