"""GE2E speaker encoder (Resemblyzer's weights): 40-band mel frames → 3-layer LSTM → 256-d.

Utterances are cut into 1.6 s partials with 50% overlap; the embedding is their normalised mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn

from services.embedding.encoders.base import SAMPLE_RATE, SpeakerEncoder, l2_normalise

PARTIAL_FRAMES = 160


class _Ge2eNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, num_layers=3, batch_first=True)
        self.linear = nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embeds = torch.relu(self.linear(hidden[-1]))
        return embeds / torch.norm(embeds, dim=1, keepdim=True).clamp_min(1e-8)


class Ge2eEncoder(SpeakerEncoder):
    name = "ge2e-resemblyzer"
    dim = 256
    segment_seconds = 30.0

    def __init__(self, folder: Path) -> None:
        checkpoint = torch.load(folder / "pretrained.pt", map_location="cpu", weights_only=False)
        state = {k: v for k, v in checkpoint["model_state"].items() if not k.startswith("similarity_")}
        self.net = _Ge2eNet()
        self.net.load_state_dict(state, strict=True)
        self.net.eval()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=400,
            hop_length=160,
            n_mels=40,
            norm="slaney",
            mel_scale="slaney",
        )

    @torch.inference_mode()
    def _embed_segment(self, samples: np.ndarray) -> np.ndarray:
        wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        rms = float(wav.pow(2).mean().sqrt())
        if 0 < rms < 10 ** (-30 / 20):  # the encoder was trained on audio at about -30 dBFS
            wav = wav * (10 ** (-30 / 20) / rms)
        mels = self.mel(wav).T  # (frames, 40)
        if mels.shape[0] < PARTIAL_FRAMES:
            mels = torch.nn.functional.pad(mels, (0, 0, 0, PARTIAL_FRAMES - mels.shape[0]))
        step = PARTIAL_FRAMES // 2
        starts = range(0, max(1, mels.shape[0] - PARTIAL_FRAMES + 1), step)
        partials = torch.stack([mels[s : s + PARTIAL_FRAMES] for s in starts])
        return l2_normalise(self.net(partials).mean(dim=0).numpy())
