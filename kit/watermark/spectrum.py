"""The STFT the mark lives in (1024-point, hop 512, √Hann, 16 kHz) and its inverse."""

from __future__ import annotations

import numpy as np
import scipy.fft

RATE = 16000
N_FFT = 1024
HOP = 512
WINDOW = np.sqrt(np.hanning(N_FFT + 1)[:-1]).astype(np.float32)


def stft(x: np.ndarray, hop: int = HOP) -> np.ndarray:
    frames = 1 + (len(x) - N_FFT) // hop if len(x) >= N_FFT else 0
    if frames <= 0:
        return np.zeros((0, N_FFT // 2 + 1), np.complex64)
    windows = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::hop][:frames]
    return scipy.fft.rfft(windows * WINDOW, axis=1)  # numpy's rfft is several times slower on float32


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Weighted overlap-add; HOP is half of N_FFT, so each output sample gets exactly two frames'
    halves and the sum vectorises as two shifted adds. The squared window (periodic Hann) sums to
    exactly 1 at that hop, so no division is needed: the result is the exact inverse except in the
    first and last half-frame, where it fades out. (Dividing by the vanishing window sum there
    turned a change of the signal's edge into a click.)"""
    frames = scipy.fft.irfft(spec, n=N_FFT, axis=1) * WINDOW
    count = len(frames)
    out = np.zeros(max(length, HOP * (count + 1)), frames.dtype)
    out[: HOP * count] += frames[:, :HOP].reshape(-1)
    out[HOP : HOP * (count + 1)] += frames[:, HOP:].reshape(-1)
    return out[:length]
