"""Frame features for conversion: cepstra of the log-mel (content-ish, speaker-normalisable),
a mel-axis frequency warp (pitch and formant moves in the mel domain) and a pitch estimate."""

from __future__ import annotations

import functools

import numpy as np
from scipy.fft import dct, idct

from services.synthesis.engine.mel import FMAX, HOP, N_MELS, RATE

ENVELOPE_CEPSTRA = 16  # cepstral coefficients kept for the spectral envelope; the rest is fine structure


def cepstra(log_mel: np.ndarray, count: int = 20) -> np.ndarray:
    """MFCC-like coefficients 1..count (c0 = loudness dropped)."""
    return dct(log_mel, type=2, norm="ortho", axis=1)[:, 1 : count + 1]


def split_envelope(log_mel: np.ndarray, keep: int = ENVELOPE_CEPSTRA) -> tuple[np.ndarray, np.ndarray]:
    """(envelope, fine structure): the `keep` low quefrencies are the vocal tract, the rest the harmonics."""
    coefficients = dct(log_mel, type=2, norm="ortho", axis=1)
    coefficients[:, keep:] = 0.0
    envelope = idct(coefficients, type=2, norm="ortho", axis=1)
    return envelope, log_mel - envelope


@functools.lru_cache(maxsize=1)
def _bin_hz() -> np.ndarray:
    # slaney mel scale: linear below 1 kHz, logarithmic above (the scale of the vocoder's filters)
    mels = np.linspace(0.0, _hz_to_mel(FMAX), N_MELS + 2)[1:-1]
    return _mel_to_hz(mels)


def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


@functools.lru_cache(maxsize=64)
def _warp_positions(ratio: float) -> np.ndarray:
    """For each output bin, the (fractional) input bin whose frequency is f / ratio."""
    hz = _bin_hz()
    source_mel = _hz_to_mel(hz / ratio)
    step = _hz_to_mel(FMAX) / (N_MELS + 1)
    return np.clip(source_mel / step - 1.0, 0.0, N_MELS - 1.0)


def warp(frames: np.ndarray, ratio: float) -> np.ndarray:
    """Scale every frequency by `ratio` (>1 moves energy up) in the mel domain."""
    if abs(ratio - 1.0) < 1e-4:
        return frames
    positions = _warp_positions(round(float(ratio), 4))
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, N_MELS - 1)
    fraction = (positions - low).astype(np.float32)
    return frames[:, low] * (1.0 - fraction) + frames[:, high] * fraction


def shift(log_mel: np.ndarray, pitch_ratio: float, formant_ratio: float = 1.0) -> np.ndarray:
    """Move pitch (harmonics) and formants (envelope) independently."""
    if abs(pitch_ratio - 1.0) < 1e-4 and abs(formant_ratio - 1.0) < 1e-4:
        return log_mel
    envelope, fine = split_envelope(log_mel)
    return warp(envelope, formant_ratio) + warp(fine, pitch_ratio)


def _centred(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows without their mean, each row's energy)."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    return centred, (centred**2).sum(axis=1)


def _pitch(frames: np.ndarray, rate: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """(F0 in Hz, periodicity 0–1) of each centred row: normalised autocorrelation, corrected for
    the window's taper; the period is the first peak within 10% of the best one (so a period
    multiple does not win)."""
    size = frames.shape[1]
    window = np.hanning(size)

    def autocorrelation(x):
        spectrum = np.fft.rfft(x, 2 * size)
        return np.fft.irfft(np.abs(spectrum) ** 2)[..., :size]

    taper = autocorrelation(window)
    acf = autocorrelation(frames * window)
    acf = acf / np.maximum(taper / taper[0], 1e-3)
    acf /= np.maximum(acf[:, :1], 1e-9)
    lags = np.arange(int(rate / high), int(rate / low))
    scores = acf[:, lags]
    best = scores.max(axis=1)
    first = lags[np.argmax(scores >= 0.9 * best[:, None], axis=1)]
    # the peak that lag sits on: the best lag within a fifth above it
    near = (lags[None, :] >= first[:, None]) & (lags[None, :] <= 1.2 * first[:, None])
    period = lags[np.argmax(np.where(near, scores, -np.inf), axis=1)]
    return rate / period, best


def median_f0(samples: np.ndarray, rate: int = RATE, low: float = 60.0, high: float = 400.0) -> float:
    """Median fundamental frequency of the voiced frames (0 if none), from 50 ms frames every 10 ms."""
    frame, hop = int(0.05 * rate), int(0.01 * rate)
    if len(samples) < frame:
        return 0.0
    frames, energy = _centred(np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop])
    frames = frames[energy > 0.05 * np.percentile(energy, 95)]
    if not len(frames):
        return 0.0
    f0, periodicity = _pitch(frames, rate, low, high)
    voiced = periodicity > 0.5
    return float(np.median(f0[voiced])) if voiced.any() else 0.0


def f0_per_frame(samples: np.ndarray, frames: int, low: float = 60.0, high: float = 500.0) -> np.ndarray:
    """F0 in Hz at each log-mel frame of 22.05 kHz `samples` (frame i is centred on sample i·HOP,
    as in mel.log_mel), 0 where unvoiced or quiet; 40 ms windows."""
    size = int(0.04 * RATE)
    padded = np.pad(np.asarray(samples, dtype=np.float64), (size // 2, size // 2 + HOP * 2))
    rows = np.lib.stride_tricks.sliding_window_view(padded, size)[::HOP][:frames]
    if len(rows) < frames:
        rows = np.pad(rows, ((0, frames - len(rows)), (0, 0)))
    rows, energy = _centred(rows)
    f0, periodicity = _pitch(rows, RATE, low, high)
    loud = energy > 0.02 * np.percentile(energy, 95) if frames else energy > 0
    return np.where((periodicity > 0.5) & loud, f0, 0.0)
