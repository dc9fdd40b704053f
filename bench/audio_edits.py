"""Tempo and pitch edits as players, editors and adversaries make them, through FFmpeg's filters.

PyAV's own FFmpeg (an LGPL build) runs the filters: `atempo` (a WSOLA time stretch that keeps the
pitch) and `asetrate` + `aresample` + `atempo` (a pitch shift that keeps the tempo, the classic
FFmpeg recipe). FFmpeg's `rubberband` filter needs librubberband, which is GPL: PyAV's build does not
have it and Timbre runs no GPL code, so it is left out.
"""

from __future__ import annotations

import av
import av.filter
import numpy as np


def _filter(samples: np.ndarray, rate: int, chain: list[tuple[str, str]], speed: float) -> np.ndarray:
    """`samples` through the filters; the result is len/speed long (atempo keeps its last window
    back at the end of the stream, so a second of silence pushes it out and is cut off again)."""
    length = int(round(len(samples) / speed))
    samples = np.concatenate([samples.astype(np.float32), np.zeros(rate, np.float32)])
    graph = av.filter.Graph()
    nodes = [graph.add_abuffer(format="flt", sample_rate=rate, layout="mono", channels=1)]
    nodes += [graph.add(name, args) for name, args in chain]
    nodes.append(graph.add("aformat", f"sample_fmts=flt:sample_rates={rate}:channel_layouts=mono"))
    nodes.append(graph.add("abuffersink"))
    for before, after in zip(nodes, nodes[1:], strict=False):
        before.link_to(after)
    graph.configure()
    out: list[np.ndarray] = []
    step = 4096
    for start in range(0, len(samples) + 1, step):
        chunk = samples[start : start + step]
        if len(chunk):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk, np.float32)[None, :], format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            graph.push(frame)
        else:
            graph.push(None)
        out.extend(_drain(graph))
    result = np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
    return np.pad(result, (0, max(0, length - len(result))))[:length]


def _drain(graph: av.filter.Graph) -> list[np.ndarray]:
    pulled = []
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return pulled
        pulled.append(frame.to_ndarray().reshape(-1))


def tempo(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Played `factor` times as fast, same pitch (FFmpeg `atempo`)."""
    return _filter(samples, rate, [("atempo", f"{factor:.6f}")], factor)


def pitch(samples: np.ndarray, rate: int, semitones: float, tempo_factor: float = 1.0) -> np.ndarray:
    """Shifted by `semitones` at the same tempo (or at `tempo_factor`): asetrate + aresample + atempo."""
    ratio = 2 ** (semitones / 12)
    chain = [("asetrate", str(int(round(rate * ratio)))), ("aresample", str(rate))]
    return _filter(samples, rate, chain + [("atempo", f"{tempo_factor / ratio:.6f}")], tempo_factor)
