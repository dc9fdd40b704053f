"""Frame pairing between base speech and a reference speaker.

Parallel (a transcript is known): the base voice speaks the same words and dynamic time warping on
content features (Whisper's encoder, content.py; speaker-normalised cepstra without it) pairs each
reference frame with the base frame saying the same thing.
Non-parallel: each reference frame is paired with its nearest base frame from a base corpus (cosine
on speaker-normalised cepstra), which finds the same sound in most cases.
Pairs are index arrays into the two spectrograms, so callers can look up any per-frame feature.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from services.synthesis.engine.features import cepstra


def speech_frames(log_mel: np.ndarray, margin_db: float = 35.0) -> np.ndarray:
    """Frames within `margin_db` of the loud end of the clip (pauses and breaths are left out)."""
    level = log_mel.max(axis=1)
    return level > np.percentile(level, 95) - margin_db / 8.686  # log-mel is in nepers


def normalised_cepstra(log_mel: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    c = cepstra(log_mel)
    ref = c[mask] if mask is not None and mask.any() else c
    c = (c - ref.mean(axis=0)) / (ref.std(axis=0) + 1e-5)
    return c / (np.linalg.norm(c, axis=1, keepdims=True) + 1e-9)


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment of unit-norm feature rows a (n) and b (m): index pairs along the best path.

    Anti-diagonal sweeps keep the O(n·m) dynamic programme in numpy.
    """
    n, m = len(a), len(b)
    cost = (1.0 - a @ b.T).astype(np.float32)
    acc = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    acc[0, 0] = 0.0
    step = np.zeros((n, m), dtype=np.int8)  # 0 diagonal, 1 from above (i-1), 2 from the left (j-1)
    for d in range(2, n + m + 1):
        rows = np.arange(max(1, d - m), min(n, d - 1) + 1)
        cols = d - rows
        options = np.stack([acc[rows - 1, cols - 1], acc[rows - 1, cols], acc[rows, cols - 1]])
        choice = np.argmin(options, axis=0)
        acc[rows, cols] = cost[rows - 1, cols - 1] + options[choice, np.arange(len(rows))]
        step[rows - 1, cols - 1] = choice
    i, j = n - 1, m - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        move = step[i, j] if i > 0 and j > 0 else (1 if i > 0 else 2)
        if move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    pairs = np.array(path[::-1])
    return pairs[:, 0], pairs[:, 1]


MAX_DTW_CELLS = 4_000_000  # one exact DTW over at most this many cells (~36 MB); longer pairs go coarse first
SEGMENT_FRAMES = 1500  # frames of `a` per refined stretch of a long alignment


def _block_means(x: np.ndarray, factor: int) -> np.ndarray:
    usable = len(x) // factor * factor
    means = x[:usable].reshape(-1, factor, x.shape[1]).mean(axis=1) if usable else x[:1]
    return means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)


def long_dtw_path(a: np.ndarray, b: np.ndarray, max_cells: int = MAX_DTW_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """dtw_path for sequences of any length in bounded memory: minutes of reference would need
    gigabytes as one table. A coarse alignment of block means picks anchor points every
    SEGMENT_FRAMES frames of `a`; exact DTW then runs between consecutive anchors."""
    n, m = len(a), len(b)
    if n * m <= max_cells:
        return dtw_path(a, b)
    factor = math.ceil(math.sqrt(n * m / max_cells))
    coarse_a, coarse_b = dtw_path(_block_means(a, factor), _block_means(b, factor))
    anchors, last = [(0, 0)], (0, 0)
    for i, j in zip(coarse_a * factor, coarse_b * factor, strict=True):
        if i - last[0] >= SEGMENT_FRAMES and j > last[1] and n - i >= factor and m - j >= factor:
            last = (int(i), int(j))
            anchors.append(last)
    anchors.append((n, m))
    parts_a, parts_b = [], []
    for (i0, j0), (i1, j1) in itertools.pairwise(anchors):
        pa, pb = dtw_path(a[i0:i1], b[j0:j1])
        parts_a.append(pa + i0)
        parts_b.append(pb + j0)
    return np.concatenate(parts_a), np.concatenate(parts_b)


def parallel_pairs(
    base_mel: np.ndarray, target_mel: np.ndarray, content: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(base indices, target indices) paired by DTW, speech frames only. `content`: unit-norm
    speaker-independent features of both (content.py), one row per frame; else cepstra."""
    base_mask, target_mask = speech_frames(base_mel), speech_frames(target_mel)
    if content is None:
        content = normalised_cepstra(base_mel, base_mask), normalised_cepstra(target_mel, target_mask)
    bi, ti = long_dtw_path(*content)
    keep = base_mask[bi] & target_mask[ti]
    return bi[keep], ti[keep]


def nearest_pairs(base_mel: np.ndarray, target_mel: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(base indices, target indices): every target speech frame with its nearest base speech frame."""
    base_mask, target_mask = speech_frames(base_mel), speech_frames(target_mel)
    base_index, target_index = np.flatnonzero(base_mask), np.flatnonzero(target_mask)
    base_keys = normalised_cepstra(base_mel, base_mask)[base_index]
    target_keys = normalised_cepstra(target_mel, target_mask)[target_index]
    best = np.concatenate(
        [np.argmax(target_keys[s : s + chunk] @ base_keys.T, axis=1) for s in range(0, len(target_keys), chunk)]
    )
    return base_index[best], target_index
