"""Coqui TTS models (`coqui-tts`, import name TTS) as voice engines, read from the model store.

Weights for XTTS-v2, VITS/YourTTS, Tortoise and Bark cannot be fetched here: an operator places them
under MODEL_PATH in the layout of REQUIRED_FILES; a missing file is a ModelMissing error that names
what to place where. Models run on the GPU when there is one; each worker process holds one copy of
each model (load_model is cached).

Voice artifacts: XTTS-v2 stores its conditioning latents (GPT prompt latents + speaker embedding),
computed once at build time; the other models condition on reference audio at synthesis time, so
their artifact holds the reference itself (16 kHz, 30 s at most).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from kit.audio.codec import encode, resample
from kit.errors import InvalidArgument
from kit.models import ModelStore
from services.synthesis.engine.interface import (
    REFERENCE_RATE,
    Progress,
    SpeechOptions,
    VoiceEngine,
    load_artifact,
    save_artifact,
)
from services.synthesis.engine.text import chunk_text, normalise

REQUIRED_FILES = {
    "xtts_v2": ("config.json", "model.pth", "vocab.json"),
    "vits": ("config.json", "model.pth"),
    "tortoise": (
        "config.json",
        "autoregressive.pth",
        "diffusion_decoder.pth",
        "clvp2.pth",
        "vocoder.pth",
        "mel_norms.pth",
    ),
    "bark": (
        "config.json",
        "text_2.pt",
        "coarse_2.pt",
        "fine_2.pt",
        "bert-base-multilingual-cased/vocab.txt",
        "encodec_24khz/config.json",
    ),
}
XTTS_LANGUAGES = (
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "pl",
    "tr",
    "ru",
    "nl",
    "cs",
    "ar",
    "zh-cn",
    "hu",
    "ko",
    "ja",
    "hi",
)
MAX_REFERENCE_SECONDS = 30
ARTIFACT_KIND = "timbre-coqui-v1"


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def require(store: ModelStore, model: str) -> Path:
    if model not in REQUIRED_FILES:
        raise InvalidArgument(f"unknown coqui model {model!r}; one of {', '.join(REQUIRED_FILES)}", field="model")
    return store.require(model, *REQUIRED_FILES[model])


@contextlib.contextmanager
def _local_hub(folder: Path):
    """Bark's constructor names two hub models; answer those names from the model folder, offline."""
    from transformers import AutoProcessor, BertTokenizer, EncodecModel

    local = {
        "bert-base-multilingual-cased": folder / "bert-base-multilingual-cased",
        "facebook/encodec_24khz": folder / "encodec_24khz",
    }
    originals = {cls: cls.from_pretrained for cls in (AutoProcessor, BertTokenizer, EncodecModel)}

    def redirect(original):
        def load(name, *args, **kwargs):
            return original(str(local.get(name, name)), *args, local_files_only=True, **kwargs)

        return load

    try:
        for cls, original in originals.items():
            cls.from_pretrained = redirect(original)  # type: ignore[method-assign]  # patched for the load only
        yield
    finally:
        for cls, original in originals.items():
            cls.from_pretrained = original  # type: ignore[method-assign]


@functools.lru_cache(maxsize=4)
def load_model(model: str, folder: str, on: str):
    """One copy per worker process of each (model, folder, device)."""
    path = Path(folder)
    if model == "xtts_v2":
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        config = XttsConfig()
        config.load_json(str(path / "config.json"))
        xtts = Xtts(config)
        xtts.load_checkpoint(config, checkpoint_dir=str(path), eval=True)
        return xtts.to(on)
    from TTS.api import TTS

    weights = path / "model.pth"
    context = _local_hub(path) if model == "bark" else contextlib.nullcontext()
    with context:
        api = TTS(
            model_path=str(path if model in ("tortoise", "bark") else weights),
            config_path=str(path / "config.json"),
            progress_bar=False,
        )
    return api.to(on)


class CoquiEngine(VoiceEngine):
    def __init__(self, model: str, store: ModelStore | None = None, on: str | None = None) -> None:
        self.store = store or ModelStore()
        self.model_name = model
        self.name = f"coqui-{model}"
        self.folder = require(self.store, model)
        self.device = on or device()
        self.model = load_model(model, str(self.folder), self.device)
        if model == "xtts_v2":
            self.native_rate = int(self.model.config.audio.output_sample_rate)
            self.languages = tuple(getattr(self.model.config, "languages", None) or XTTS_LANGUAGES)
        else:
            self.native_rate = int(self.model.synthesizer.output_sample_rate)
            self.languages = self._api_languages()

    def _api_languages(self) -> tuple[str, ...]:
        languages = getattr(self.model, "languages", None)
        return tuple(languages) if languages else ("en",)

    # -- building ---------------------------------------------------------------------------
    def build_voice(
        self, references: list[np.ndarray], transcript: str | None = None, progress: Progress | None = None
    ) -> bytes:
        report = progress or (lambda stage, fraction: None)
        if not references:
            raise InvalidArgument("at least one reference recording is needed", field="reference")
        cap = MAX_REFERENCE_SECONDS * REFERENCE_RATE
        references = [r[:cap] for r in references]
        state: dict = {"kind": ARTIFACT_KIND, "model": self.model_name}
        if self.model_name == "xtts_v2":
            rate = int(self.model.config.audio.sample_rate)
            audios = [torch.from_numpy(resample(r, REFERENCE_RATE, rate))[None].to(self.device) for r in references]
            report("speaker embedding", 0.2)
            embeddings = [self.model.get_speaker_embedding(a, rate) for a in audios]
            report("prompt latents", 0.6)
            state["gpt_cond_latent"] = self.model.get_gpt_cond_latents(torch.cat(audios, dim=-1), rate).cpu()
            state["speaker_embedding"] = torch.stack(embeddings).mean(dim=0).cpu()
        else:
            joined = np.concatenate(references)[:cap]
            state["reference"] = torch.from_numpy((np.clip(joined, -1, 1) * 32767).astype(np.int16))
        artifact = save_artifact(state)
        report("done", 1.0)
        return artifact

    # -- speaking ---------------------------------------------------------------------------
    def load_voice(self, artifact: bytes) -> dict:
        return load_artifact(artifact, ARTIFACT_KIND, f"for {self.name}", model=self.model_name)

    def _stream(self, text: str, voice: dict | None, options: SpeechOptions) -> Iterator[np.ndarray]:
        if voice is None and self.model_name == "xtts_v2":
            raise InvalidArgument("XTTS-v2 speaks only in a cloned voice: give a voice artifact", field="voice")
        state = voice
        rate = self.output_rate(options)
        with contextlib.ExitStack() as stack:
            speaker_wav = None
            if state is not None and "reference" in state:
                # the coqui API takes reference audio as a file path
                handle = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".wav"))
                handle.write(encode(state["reference"].numpy().astype(np.float32) / 32767, REFERENCE_RATE))
                handle.flush()
                speaker_wav = handle.name
            for chunk in chunk_text(normalise(text, options.language), options.language):
                audio = self._speak(chunk, state, speaker_wav, options)
                if abs(options.pitch) > 1e-6:
                    audio = _pitch_shift(audio, self.native_rate, options.pitch)
                yield resample(audio, self.native_rate, rate)

    @torch.inference_mode()
    def _speak(self, chunk: str, state: dict | None, speaker_wav: str | None, options: SpeechOptions) -> np.ndarray:
        if self.model_name == "xtts_v2":
            assert state is not None, "XTTS speaks from the conditioning latents its artifact holds"
            out = self.model.inference(
                chunk,
                options.language,
                state["gpt_cond_latent"].to(self.device),
                state["speaker_embedding"].to(self.device),
                speed=options.speed,
            )
            return np.asarray(out["wav"], dtype=np.float32).reshape(-1)
        kwargs = {"speaker_wav": speaker_wav} if speaker_wav else {}
        if getattr(self.model, "is_multi_lingual", False):
            kwargs["language"] = options.language
        return np.asarray(self.model.tts(chunk, speed=options.speed, **kwargs), dtype=np.float32).reshape(-1)


def _pitch_shift(audio: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """The caller's pitch option, for models without a pitch control of their own (quarter tones)."""
    import torchaudio

    shifted = torchaudio.functional.pitch_shift(
        torch.from_numpy(audio)[None], rate, n_steps=round(semitones * 4), bins_per_octave=48
    )
    return shifted[0].numpy().astype(np.float32)
