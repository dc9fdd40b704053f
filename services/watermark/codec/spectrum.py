"""The STFT the mark lives in (1024-point, hop 512, √Hann, 16 kHz) and its exact inverse."""

from __future__ import annotations

import numpy as np

RATE = 16000
N_FFT = 1024
HOP = 512
WINDOW = np.sqrt(np.hanning(N_FFT + 1)[:-1]).astype(np.float32)


def stft(x: np.ndarray) -> np.ndarray:
    frames = 1 + (len(x) - N_FFT) // HOP if len(x) >= N_FFT else 0
    if frames <= 0:
        return np.zeros((0, N_FFT // 2 + 1), np.complex64)
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    return np.fft.rfft(x[index] * WINDOW, axis=1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Weighted overlap-add; HOP is half of N_FFT, so each output sample gets exactly two frames'
    halves and the sum vectorises as two shifted adds."""
    frames = np.fft.irfft(spec, n=N_FFT, axis=1) * WINDOW
    count = len(frames)
    out = np.zeros(max(length, HOP * (count + 1)), np.float64)
    out[: HOP * count] += frames[:, :HOP].reshape(-1)
    out[HOP: HOP * (count + 1)] += frames[:, HOP:].reshape(-1)
    return (out / _overlap_norm(count, len(out)))[:length]


def _overlap_norm(count: int, size: int) -> np.ndarray:
    norm = np.zeros(size, np.float64)
    squared = WINDOW.astype(np.float64) ** 2
    norm[: HOP * count] += np.tile(squared[:HOP], count)
    norm[HOP: HOP * (count + 1)] += np.tile(squared[HOP:], count)
    return np.maximum(norm, 1e-8)
