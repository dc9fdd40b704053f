"""Log-mel spectrograms exactly as the HiFi-GAN V1 vocoder was trained on (22.05 kHz, 1024-point
STFT, hop 256, 80 slaney mels 0–8 kHz, natural log of magnitude): conversion works on these frames."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torchaudio

RATE = 22050
N_FFT = 1024
HOP = 256
N_MELS = 80
FMAX = 8000.0
FRAME_SECONDS = HOP / RATE


@functools.lru_cache(maxsize=1)
def _basis() -> torch.Tensor:
    # librosa's default mel filters (slaney scale and area normalisation), which HiFi-GAN used
    return torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0.0, FMAX, N_MELS, RATE, norm="slaney", mel_scale="slaney"
    ).T.contiguous()


@functools.lru_cache(maxsize=1)
def _window() -> torch.Tensor:
    return torch.hann_window(N_FFT)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """float32 samples at 22.05 kHz → (frames, 80) log-mel."""
    wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if wav.numel() < N_FFT:
        wav = torch.nn.functional.pad(wav, (0, N_FFT - wav.numel()))
    spec = torch.stft(wav, N_FFT, HOP, N_FFT, _window(), center=True, pad_mode="reflect", return_complex=True).abs()
    mel = _basis() @ spec
    return torch.log(torch.clamp(mel, min=1e-5)).T.numpy()
