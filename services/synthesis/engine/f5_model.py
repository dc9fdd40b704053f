"""An F5-TTS checkpoint and its Vocos vocoder, read from the model store (docs/engine-f5.md).

The weights cannot be fetched here: the operator places them under MODEL_PATH/f5/<model>/ in the
layout of REQUIRED_FILES, with a MODEL.json stating the licence its publisher gives the checkpoint;
without that statement the model is refused, so no weights of unknown terms are ever served.

Only F5's model code is imported (`f5_tts.model.backbones.dit`, `.cfm`) and Vocos's decoder
(`vocos.models`, `vocos.heads`). Their packages' __init__ modules would import far more:
`f5_tts.model` imports the trainer (wandb, accelerate, datasets), and `vocos` imports EnCodec, whose
PyPI release is CC-BY-NC. So the two packages are registered bare (a module with only its __path__)
before their submodules are imported, and neither __init__ runs.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kit.errors import FailedPrecondition, InvalidArgument
from kit.models import ModelMissing, ModelStore
from kit.models.store import MANIFEST

CHECKPOINTS = ("model.safetensors", "model.pt")  # either one
REQUIRED_FILES = ("config.yaml", "vocab.txt", "vocos/config.yaml", "vocos/pytorch_model.bin")
MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Vocos's config names the classes to build; only these are accepted (a config is data, not code).
VOCOS_CLASSES = {"vocos.models.VocosBackbone", "vocos.heads.ISTFTHead"}
_import_lock = threading.Lock()


def folder_name(model: str) -> str:
    """The store folder of `f5:<model>`."""
    if not MODEL_NAME.match(model):
        raise InvalidArgument(
            f"F5 model name {model!r} is not a plain name (a-z, 0-9, _ and -, e.g. 'thai')", field="engine"
        )
    return f"f5/{model}"


def require(store: ModelStore, model: str) -> tuple[Path, Path]:
    """(folder, checkpoint) of a complete model with a stated licence; ModelMissing otherwise,
    naming what to place where."""
    name = folder_name(model)
    folder = store.folder(name)
    checkpoint = next((folder / c for c in CHECKPOINTS if (folder / c).is_file()), None)
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if checkpoint is None or missing:
        wanted = [" or ".join(CHECKPOINTS)] * (checkpoint is None) + missing
        raise ModelMissing(
            f"F5 model {model!r} is missing {', '.join(wanted)}; place the checkpoint "
            f"({' or '.join(CHECKPOINTS)}), its config.yaml (F5's training config: model.arch, model.mel_spec) "
            f"and vocab.txt, and the Vocos vocoder (vocos/config.yaml, vocos/pytorch_model.bin) in {folder}, "
            f"with {MANIFEST} stating their licence (docs/engine-f5.md)",
            model=name,
            path=str(folder),
        )
    stated_licence(folder, name)
    return folder, checkpoint


def stated_licence(folder: Path, name: str) -> str:
    """The licence the operator recorded for the placed weights; refused when there is none."""
    manifest = folder / MANIFEST
    try:
        record = json.loads(manifest.read_text()) if manifest.is_file() else {}
    except (OSError, ValueError):
        record = None
    licence = record.get("licence") if isinstance(record, dict) else None
    if not isinstance(licence, str) or not licence.strip():
        raise ModelMissing(
            f'F5 model {name!r} has no stated licence: write {manifest} with a "licence" field, the licence '
            'its publisher gives these weights (e.g. {"licence": "CC-BY-4.0", "source": "<where they came from>"}); '
            "Timbre loads no weights whose terms the operator has not recorded",
            reason="MODEL_MISSING",
            model=name,
            path=str(manifest),
        )
    return licence.strip()


def _bare_package(name: str) -> None:
    """Make `name` importable as a package without running its __init__ (see the module docstring)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"{name} is not installed (requirements/base.lock pins it)")
    sys.modules[name] = importlib.util.module_from_spec(spec)


def _model_code() -> tuple[Any, Any]:
    with _import_lock:
        _bare_package("f5_tts.model")
        _bare_package("vocos")
    from f5_tts.model.backbones.dit import DiT
    from f5_tts.model.cfm import CFM

    return DiT, CFM


def tokens(text: str) -> list[str]:
    """F5's own text → token list (characters; pinyin for any Chinese), as its fine-tunes were trained."""
    _model_code()
    from f5_tts.model.utils import convert_char_to_pinyin

    return convert_char_to_pinyin([text])[0]


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt: one token a line, its line number the index (F5's own reading: only the newline
    is cut, so the line holding a single space is the space token)."""
    with open(path, encoding="utf-8") as handle:
        return {line[:-1] if line.endswith("\n") else line: i for i, line in enumerate(handle)}


def _training_config(path: Path) -> tuple[dict, dict]:
    import yaml

    config = yaml.safe_load(path.read_text())
    model = config.get("model", {}) if isinstance(config, dict) else {}
    arch, mel = model.get("arch"), model.get("mel_spec")
    if model.get("backbone", "DiT") != "DiT" or not isinstance(arch, dict) or not isinstance(mel, dict):
        raise InvalidArgument(
            f"{path} is not an F5 DiT training config (model.backbone DiT, model.arch, model.mel_spec)",
            field="engine",
        )
    if mel.get("mel_spec_type", "vocos") != "vocos":
        raise InvalidArgument(f"{path}: only the Vocos mel front end is supported", field="engine")
    return arch, mel


def _state_dict(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The (EMA, when there is one) weights, whatever wrapping F5's training left around them."""
    if checkpoint.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: dict = {"ema_model_state_dict": load_file(str(checkpoint), device="cpu")}
    else:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    weights = state.get("ema_model_state_dict") or state.get("model_state_dict") or state
    return {
        key.removeprefix("ema_model."): value
        for key, value in weights.items()
        if key not in ("initted", "step") and not key.startswith("mel_spec.")  # mel buffers of older releases
    }


class VocosDecoder(torch.nn.Module):
    """Vocos's mel → waveform half (backbone and ISTFT head); the feature extractor is F5's own."""

    def __init__(self, folder: Path) -> None:
        import yaml

        super().__init__()
        with _import_lock:
            _bare_package("vocos")
        config = yaml.safe_load((folder / "config.yaml").read_text())
        self.backbone = self._build(config["backbone"])
        self.head = self._build(config["head"])
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        self.load_state_dict({k: v for k, v in state.items() if k.startswith(("backbone.", "head."))})

    @staticmethod
    def _build(entry: dict) -> torch.nn.Module:
        path = entry.get("class_path", "")
        if path not in VOCOS_CLASSES:
            raise InvalidArgument(f"Vocos class {path!r} is not one of {', '.join(sorted(VOCOS_CLASSES))}")
        module, name = path.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)(**entry.get("init_args", {}))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (b, mels, frames) → (b, samples)
        return self.head(self.backbone(mel))


@dataclass
class F5Model:
    cfm: Any  # f5_tts.model.cfm.CFM
    vocoder: VocosDecoder
    rate: int
    licence: str
    lock: threading.Lock  # one request at a time per copy: the DiT caches the text between steps


@functools.lru_cache(maxsize=2)
def load_model(folder: str, checkpoint: str, on: str) -> F5Model:
    """One copy per worker process of each (folder, device)."""
    path = Path(folder)
    DiT, CFM = _model_code()
    arch, mel = _training_config(path / "config.yaml")
    vocab = read_vocab(path / "vocab.txt")
    channels, rate = int(mel.get("n_mel_channels", 100)), int(mel.get("target_sample_rate", 24000))
    mel_kwargs = {
        "n_fft": int(mel.get("n_fft", 1024)),
        "hop_length": int(mel.get("hop_length", 256)),
        "win_length": int(mel.get("win_length", 1024)),
        "n_mel_channels": channels,
        "target_sample_rate": rate,
        "mel_spec_type": "vocos",
    }
    arch = {k: v for k, v in arch.items() if k not in ("checkpoint_activations", "attn_backend")}
    model = CFM(
        transformer=DiT(**arch, text_num_embeds=len(vocab), mel_dim=channels),
        mel_spec_kwargs=mel_kwargs,
        odeint_kwargs={"method": "euler"},
        vocab_char_map=vocab,
    )
    try:
        model.load_state_dict(_state_dict(Path(checkpoint)))
    except RuntimeError as exc:  # the config's architecture is not the checkpoint's
        raise FailedPrecondition(
            f"{checkpoint} does not fit {path / 'config.yaml'} (place the config it was trained with): "
            f"{str(exc)[:400]}",
            model=str(path),
        ) from exc
    return F5Model(
        cfm=model.eval().to(on),
        vocoder=VocosDecoder(path / "vocos").eval().to(on),
        rate=rate,
        licence=stated_licence(path, path.name),
        lock=threading.Lock(),
    )
