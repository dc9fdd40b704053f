"""Duplicate-voice check on a large speaker index: single-query latency (p50/p99), memory and
recall@1 against exact search, for exact search (IndexFlatIP) and IVF-Flat at several nprobe.

Data: N L2-normalised 192-d vectors (ECAPA's size) drawn around 2,000 "accent" centres so the set
has some structure, like real embeddings; queries are indexed voices re-recorded (noise added until
cosine ≈ 0.75 to the original, the same-speaker score ECAPA gives). Ground truth = exact top-1.

Usage: python -m bench.index_search [--voices 1000000] [--queries 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import time

import faiss
import numpy as np

from bench.common import machine_facts, percentiles

DIM = 192


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_voices(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = unit(rng.standard_normal((2000, DIM), dtype=np.float32))
    voices = np.empty((n, DIM), np.float32)
    step = 100_000
    for start in range(0, n, step):
        size = min(step, n - start)
        base = centres[rng.integers(0, len(centres), size)]
        voices[start : start + size] = unit(
            base * 0.6 + rng.standard_normal((size, DIM), dtype=np.float32) / np.sqrt(DIM)
        )
    return voices


def re_record(voices: np.ndarray, target_cos: float, rng: np.random.Generator) -> np.ndarray:
    noise = unit(rng.standard_normal(voices.shape, dtype=np.float32))
    noise -= (noise * voices).sum(axis=1, keepdims=True) * voices  # orthogonal to each voice
    noise = unit(noise)
    return unit(voices * target_cos + noise * np.sqrt(1 - target_cos**2))


def single_query_latency(index, queries: np.ndarray) -> tuple[dict, np.ndarray]:
    samples, top = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), 1)
        samples.append((time.perf_counter() - started) * 1000)
        top.append(ids[0, 0])
    return percentiles(samples), np.array(top)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--exact-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nprobe", default="4,8,16,24,32,64")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(7)
    print(f"machine: {machine_facts()}; faiss {faiss.__version__}, {args.threads} thread(s)")
    started = time.time()
    voices = make_voices(args.voices, rng)
    picked = rng.choice(args.voices, args.queries, replace=False)
    queries = re_record(voices[picked], 0.75, rng)
    print(
        f"data: {args.voices} voices × {DIM}-d, {args.queries} queries (cos 0.75 to their voice); "
        f"{time.time() - started:.0f}s"
    )

    flat = faiss.IndexFlatIP(DIM)
    flat.add(voices)
    base_rss = rss_mib()
    faiss.omp_set_num_threads(2)
    _, truth = flat.search(queries, 1)  # batched, for ground truth
    faiss.omp_set_num_threads(args.threads)
    truth = truth[:, 0]
    exact_stats, exact_top = single_query_latency(flat, queries[: args.exact_queries])
    print(f"ground truth = original voice for {np.mean(truth == picked):.4f} of queries")
    rows = [
        (
            "exact IndexFlatIP",
            exact_stats,
            float(np.mean(exact_top == truth[: args.exact_queries])),
            flat.ntotal * DIM * 4 / 2**20,
            0.0,
        )
    ]

    nlist = int(4 * np.sqrt(args.voices))
    started = time.time()
    quantizer = faiss.IndexFlatIP(DIM)
    ivf = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    faiss.omp_set_num_threads(2)
    ivf.train(voices[rng.choice(args.voices, min(args.voices, 64 * nlist), replace=False)])
    ivf.add(voices)
    build = time.time() - started
    faiss.omp_set_num_threads(args.threads)
    ivf_bytes = ivf.invlists.compute_ntotal() * (DIM * 4 + 8) + nlist * DIM * 4
    for nprobe in [int(p) for p in args.nprobe.split(",")]:
        ivf.nprobe = nprobe
        stats, top = single_query_latency(ivf, queries)
        rows.append(
            (f"IVF-Flat nlist={nlist} nprobe={nprobe}", stats, float(np.mean(top == truth)), ivf_bytes / 2**20, build)
        )
    del voices
    print(f"{'index':<36} {'p50 ms':>8} {'p99 ms':>8} {'recall@1':>9} {'index MiB':>10} {'build s':>8}")
    for name, stats, recall, mib, seconds in rows:
        print(f"{name:<36} {stats['p50']:8.3f} {stats['p99']:8.3f} {recall:9.4f} {mib:10.0f} {seconds:8.0f}")
    exact_p99 = rows[0][1]["p99"]
    chosen = next((r for r in rows[1:] if r[2] >= 0.99), None)
    if chosen:
        print(
            f"chosen: {chosen[0]} — p99 {chosen[1]['p99']:.3f} ms ({exact_p99 / chosen[1]['p99']:.0f}× faster "
            f"than exact), recall@1 {chosen[2]:.4f}"
        )
    print(f"process peak RSS {rss_mib():.0f} MiB (after data + exact index: {base_rss:.0f} MiB)")


if __name__ == "__main__":
    main()
