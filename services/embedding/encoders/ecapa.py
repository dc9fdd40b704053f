"""ECAPA-TDNN (SpeechBrain spkrec-ecapa-voxceleb) built with speechbrain's modules and loaded from
the model store's checkpoint: no hub, no Pretrainer, strict state-dict loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
from speechbrain.processing.features import InputNormalization

from services.embedding.encoders.base import SpeakerEncoder


class EcapaEncoder(SpeakerEncoder):
    name = "ecapa-voxceleb"
    dim = 192

    def __init__(self, folder: Path) -> None:
        # The architecture of hyperparams.yaml; load_state_dict(strict=True) proves they match.
        self.features = Fbank(n_mels=80)
        self.normalise = InputNormalization(norm_type="sentence", std_norm=False)
        self.model = ECAPA_TDNN(
            80,
            channels=[1024, 1024, 1024, 1024, 3072],
            kernel_sizes=[5, 3, 3, 3, 1],
            dilations=[1, 2, 3, 4, 1],
            attention_channels=128,
            lin_neurons=192,
        )
        state = torch.load(folder / "embedding_model.ckpt", map_location="cpu", weights_only=True)
        self.model.load_state_dict(state, strict=True)
        self.model.eval()

    @torch.inference_mode()
    def _embed_segment(self, samples: np.ndarray) -> np.ndarray:
        wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).unsqueeze(0)
        lengths = torch.ones(1)
        feats = self.normalise(self.features(wav), lengths)
        return self.model(feats, lengths).reshape(-1).numpy()
