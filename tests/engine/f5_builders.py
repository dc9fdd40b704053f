"""A tiny F5-TTS (DiT 64 wide, 2 deep) and a tiny Vocos with random weights, saved in the model
store's layout (MODEL_PATH/f5/<model>/), so the tests prove load → build → speak without the real
weights, which cannot be fetched here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml

from services.synthesis.engine.f5_model import _model_code

ARCH = {"dim": 64, "depth": 2, "heads": 2, "dim_head": 32, "ff_mult": 2, "text_dim": 32, "conv_layers": 1}
MEL = {
    "target_sample_rate": 24000,
    "n_mel_channels": 100,
    "hop_length": 256,
    "win_length": 1024,
    "n_fft": 1024,
    "mel_spec_type": "vocos",
}
VOCOS: dict[str, dict[str, Any]] = {  # the layout of charactr/vocos-mel-24khz's config.yaml, at toy sizes
    "feature_extractor": {
        "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
        "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100, "padding": "center"},
    },
    "backbone": {
        "class_path": "vocos.models.VocosBackbone",
        "init_args": {"input_channels": 100, "dim": 32, "intermediate_dim": 64, "num_layers": 2},
    },
    "head": {
        "class_path": "vocos.heads.ISTFTHead",
        "init_args": {"dim": 32, "n_fft": 1024, "hop_length": 256, "padding": "center"},
    },
}


def vocab() -> list[str]:
    """Space first (index 0 doubles as the unknown character), ASCII, then the Thai block."""
    ascii_ = [chr(c) for c in range(0x21, 0x7F)]
    thai = [chr(c) for c in range(0x0E01, 0x0E5C) if chr(c).isprintable()]
    return [" ", *ascii_, *thai]


def build_f5(
    folder: Path, licence: str | None = "MIT (random test weights)", checkpoint: str = "model.pt", seed: int = 0
) -> Path:
    DiT, CFM = _model_code()
    folder.mkdir(parents=True, exist_ok=True)
    tokens = vocab()
    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
    (folder / "config.yaml").write_text(
        yaml.safe_dump({"model": {"name": "F5TTS_tiny", "backbone": "DiT", "arch": ARCH, "mel_spec": MEL}})
    )
    torch.manual_seed(seed)
    model = CFM(transformer=DiT(**ARCH, text_num_embeds=len(tokens), mel_dim=MEL["n_mel_channels"]))
    weights = {f"ema_model.{k}": v for k, v in model.state_dict().items()}
    if checkpoint.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file(weights, str(folder / checkpoint))
    else:  # F5's training checkpoint: EMA weights beside the EMA's own counters
        torch.save(
            {"ema_model_state_dict": {**weights, "initted": torch.tensor(True), "step": torch.tensor(1)}},
            folder / checkpoint,
        )
    build_vocos(folder / "vocos")
    if licence is not None:
        (folder / "MODEL.json").write_text(json.dumps({"licence": licence, "source": "tests/engine/f5_builders.py"}))
    return folder


def build_vocos(folder: Path) -> None:
    from vocos.heads import ISTFTHead
    from vocos.models import VocosBackbone

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(VOCOS))
    backbone = VocosBackbone(**VOCOS["backbone"]["init_args"])
    head = ISTFTHead(**VOCOS["head"]["init_args"])
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state |= {f"head.{k}": v for k, v in head.state_dict().items()}
    state["feature_extractor.mel_spec.spectrogram.window"] = torch.hann_window(1024)  # as in the real file
    torch.save(state, folder / "pytorch_model.bin")
