"""Coqui TTS models (`coqui-tts`, import name TTS) as voice engines, read from the model store.

Weights for XTTS-v2, VITS/YourTTS, Tortoise and Bark cannot be fetched here: an operator places them
under MODEL_PATH in the layout of REQUIRED_FILES; a missing file is a ModelMissing error that names
what to place where. Models run on the GPU when there is one; each worker process holds one copy of
each model (load_model is cached).

Voice artifacts: XTTS-v2 stores its conditioning latents (GPT prompt latents + speaker embedding),
computed once at build time; the other models condition on reference audio at synthesis time, so
their artifact holds the reference itself (16 kHz, 30 s at most).

Streaming: XTTS-v2 speaks each sentence through its streaming inference, so the first audio leaves
after the first `stream_chunk_size` GPT tokens instead of the whole sentence; the other models
speak a sentence at a time. Requests to one model copy are serialised (model_lock): XTTS keeps
per-generation state on the model itself, so two generations interleaved on one copy would corrupt
each other. Concurrency comes from more copies, i.e. more worker processes (worker_pool.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from kit.audio.codec import StreamResampler, encode, resample
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
# XTTS-v2 GPT tokens per streamed chunk (TIMBRE_XTTS_STREAM_CHUNK_SIZE; ~21.5 tokens per second of
# speech). Fewer tokens: earlier first audio, but more vocoder work, since every chunk re-decodes all
# of the sentence's latents so far (a sentence of n tokens costs about n / (2 * size) whole decodes):
# 20 puts the first audio about a second of speech in, at a few decodes per sentence.
STREAM_CHUNK_TOKENS = 20

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_END = object()


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


def model_lock(model: object) -> threading.Lock:
    """The lock of one loaded model copy: every engine on that copy generates under it."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(model, threading.Lock())


def stream_chunk_tokens() -> int:
    return int(os.environ.get("TIMBRE_XTTS_STREAM_CHUNK_SIZE") or STREAM_CHUNK_TOKENS)


class CoquiEngine(VoiceEngine):
    def __init__(
        self,
        model: str,
        store: ModelStore | None = None,
        on: str | None = None,
        stream_chunk_size: int | None = None,
        greedy: bool = False,
    ) -> None:
        """stream_chunk_size: XTTS-v2 tokens per streamed chunk (default TIMBRE_XTTS_STREAM_CHUNK_SIZE, else
        STREAM_CHUNK_TOKENS; 0: one chunk per sentence). greedy: XTTS-v2 takes the likeliest token at
        every step instead of sampling, so the same text speaks the same way (tests, reproducible benchmarks)."""
        self.store = store or ModelStore()
        self.model_name = model
        self.name = f"coqui-{model}"
        self.folder = require(self.store, model)
        self.device = on or device()
        self.model = load_model(model, str(self.folder), self.device)
        self.lock = model_lock(self.model)
        self.stream_chunk_size = stream_chunk_tokens() if stream_chunk_size is None else stream_chunk_size
        if self.stream_chunk_size < 0:
            raise InvalidArgument("stream_chunk_size must be 0 or more", field="stream_chunk_size")
        self.greedy = greedy
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
            with self.lock:  # stateless passes, but one copy serves one request at a time (GPU memory)
                report("speaker embedding", 0.2)
                embeddings = [self.model.get_speaker_embedding(a, rate) for a in audios]
                report("prompt latents", 0.6)
                latents = self.model.get_gpt_cond_latents(torch.cat(audios, dim=-1), rate)
            state["gpt_cond_latent"] = latents.cpu()
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
        pitched = abs(options.pitch) > 1e-6
        # One resampler for the whole text: its filter state carries across chunks, so seams are clean.
        resampler = StreamResampler(self.native_rate, self.output_rate(options))
        with contextlib.ExitStack() as stack:
            speaker_wav = None
            if state is not None and "reference" in state:
                # the coqui API takes reference audio as a file path
                handle = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".wav"))
                handle.write(encode(state["reference"].numpy().astype(np.float32) / 32767, REFERENCE_RATE))
                handle.flush()
                speaker_wav = handle.name
            for chunk in chunk_text(normalise(text, options.language), options.language):
                if self.model_name == "xtts_v2" and not pitched:
                    assert state is not None
                    pieces = self._xtts_stream(chunk, state, options)
                else:
                    # A pitch shift needs the whole sentence: shifting streamed chunks one by one
                    # would click at every seam. So a pitched request streams a sentence at a time.
                    audio = self._speak(chunk, state, speaker_wav, options)
                    pieces = iter([_pitch_shift(audio, self.native_rate, options.pitch) if pitched else audio])
                for piece in pieces:
                    out = resampler(piece)
                    if len(out):
                        yield out
        tail = resampler(None)
        if len(tail):
            yield tail

    def _xtts_stream(self, chunk: str, state: dict, options: SpeechOptions) -> Iterator[np.ndarray]:
        """One sentence through XTTS-v2's streaming inference, a chunk of audio per stream_chunk_size tokens.

        The sentence's generator runs in a thread of its own, under the model copy's lock, and hands
        its chunks over a queue. Lock per sentence: the generator's state (the prompt embedding that
        `compute_embeddings` stores on the model and every GPT step reads) lives exactly that long, and
        other requests get their turn at sentence boundaries rather than waiting for a whole long text.
        The thread: the lock is held for as long as the model computes, never while our caller is
        slow to take a chunk (a gRPC stream waiting on a slow client), and when the caller stops early
        (closes this generator) the thread stops at its next chunk and releases the lock."""
        handoff: queue.SimpleQueue = queue.SimpleQueue()
        abandoned = threading.Event()

        def produce() -> None:
            try:
                with self.lock:
                    if abandoned.is_set():  # the caller left while this sentence waited for its turn
                        return
                    stream = self.model.inference_stream(
                        chunk,
                        options.language,
                        state["gpt_cond_latent"].to(self.device),
                        state["speaker_embedding"].to(self.device),
                        stream_chunk_size=self.stream_chunk_size,
                        speed=options.speed,
                        enable_text_splitting=False,  # chunk_text has split the text already
                        **self._sampling(),
                    )
                    for wav in stream:
                        if abandoned.is_set():
                            stream.close()
                            return
                        handoff.put(wav.detach().float().cpu().numpy().reshape(-1))
                handoff.put(_END)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                handoff.put(exc)

        threading.Thread(target=produce, name=f"{self.name}-sentence", daemon=True).start()
        try:
            while (item := handoff.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            abandoned.set()

    def _sampling(self) -> dict:
        # Greedy as top-k 1: XTTS's streaming generator samples whatever do_sample says (coqui-tts 0.28
        # sample_stream), and do_sample=False would only drop the top-k/top-p filters before it samples.
        return {"top_k": 1} if self.greedy else {}

    @torch.inference_mode()
    def _speak(self, chunk: str, state: dict | None, speaker_wav: str | None, options: SpeechOptions) -> np.ndarray:
        """One sentence, whole, under the model copy's lock."""
        with self.lock:
            if self.model_name == "xtts_v2":
                assert state is not None, "XTTS speaks from the conditioning latents its artifact holds"
                out = self.model.inference(
                    chunk,
                    options.language,
                    state["gpt_cond_latent"].to(self.device),
                    state["speaker_embedding"].to(self.device),
                    speed=options.speed,
                    **self._sampling(),
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
