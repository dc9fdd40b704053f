"""The embedded default engine (CPU, offline): base voice → per-voice mel conversion → HiFi-GAN.

Building a voice fits one Conversion per base voice (Piper joe for English, espeak-ng for Thai) from
the reference. With a transcript (given, or heard by Whisper when none is given), the base voice of
its language speaks the same words (parallel pairs by DTW); the other base voice, or both when no
transcript can be had, pair a base corpus by nearest frames. See docs/engine.md for what was measured.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kit.audio.codec import StreamResampler, resample
from kit.errors import InvalidArgument
from kit.models import ModelStore
from services.synthesis.engine import alignment, conversion, fine_structure, sound_classes
from services.synthesis.engine.base_voice import base_name, base_voice
from services.synthesis.engine.content import ContentFeatures
from services.synthesis.engine.features import f0_per_frame, median_f0
from services.synthesis.engine.interface import (
    REFERENCE_RATE,
    Progress,
    SpeechOptions,
    VoiceEngine,
    load_artifact,
    save_artifact,
)
from services.synthesis.engine.mel import HOP, RATE, log_mel
from services.synthesis.engine.text import chunk_text, normalise, split_first
from services.synthesis.engine.vocoder import load_vocoder

ARTIFACT_KIND = "timbre-embedded-v1"
MIN_REFERENCE_SECONDS = 3.0
# The first vocoder windows grow from 12 frames (0.14 s): the first audio comes after a short window,
# and each next window is vocoded while the audio before it plays, so a live listener is not starved.
START_WINDOWS = (12, 48, 128, 192)
VOCODER_WINDOW = 400  # frames per later window (4.6 s): context overhead 8% (160 frames cost 28%)
VOCODER_CONTEXT = 16  # frames of context on each side of a window
CORPUS_CACHE = 4  # base corpora kept spoken (language, pitch): 2.5–5 MB each
THAI_CORPUS = (
    "สวัสดีครับ วันนี้อากาศดีมาก เราจะไปเที่ยวทะเลด้วยกัน ฉันชอบกินข้าวผัดและต้มยำกุ้ง "
    "คุณพ่อของฉันทำงานที่โรงพยาบาลในกรุงเทพ ทุกเช้าเขาตื่นนอนตอนหกโมง แล้วดื่มกาแฟร้อนหนึ่งแก้ว "
    "นักเรียนกำลังอ่านหนังสือในห้องสมุด เสียงฝนตกข้างนอกทำให้ทุกคนรู้สึกสบายใจ"
)


@dataclass
class EmbeddedVoice:
    """A loaded artifact: one conversion per base voice, and the reference's harmonics (optional:
    voices built before them have none)."""

    conversions: dict[str, conversion.Conversion]
    fine_structure: fine_structure.FineStructure | None = None


def transcript_language(text: str) -> str:
    """ "th" when the transcript is written in Thai script, else "en"."""
    return "th" if any("\u0e00" <= ch <= "\u0e7f" for ch in text) else "en"


def _english_corpus() -> str:
    from services.synthesis.engine.base_corpus import PASSAGES

    return " ".join(PASSAGES)


def _conversion_summary(fitted: conversion.Conversion) -> dict:
    report = fitted.report
    return {
        "transcript": report.get("transcript", "unknown"),  # given | heard | none
        "parallel": bool(report.get("parallel", False)),
        "pairs": int(report.get("pairs", 0)),
        "fit_error": round(float(report.get("fit_error", 0.0)), 4),
        "sound_classes": len(fitted.classes.centres) if fitted.classes else 0,
        "base_f0_hz": round(float(report.get("base_f0") or 0.0), 1),
        "target_f0_hz": round(float(report.get("target_f0") or 0.0), 1),
        "pitch_ratio": round(float(fitted.wave_pitch * fitted.mel_pitch), 4),  # within the fit's cap
        "formant_ratio": round(float(fitted.formant_ratio), 4),
        "strength": float(fitted.strength),
        "class_strength": float(fitted.classes.strength) if fitted.classes else None,
    }


class EmbeddedEngine(VoiceEngine):
    name = "embedded"
    native_rate = RATE

    def __init__(
        self, store: ModelStore | None = None, device: str = "cpu", fit_options: conversion.FitOptions | None = None
    ) -> None:
        self.store = store or ModelStore()
        self.device = device
        self.vocoder = load_vocoder(self.store.require("hifigan"), device)
        self.fit_options = fit_options or conversion.FitOptions()
        self._base_f0_cache: dict[str, float] = {}
        self._corpus_cache: dict[tuple[str, float], np.ndarray] = {}
        self._corpus_lock = threading.Lock()

    @functools.cached_property
    def content(self) -> ContentFeatures | None:
        """Whisper's encoder, loaded at the first build: it aligns transcribed references far
        better than cepstra. Optional: None without the model in the store."""
        return ContentFeatures.available(self.store)

    def _base(self, language: str):
        return base_voice(language, str(self.store.root))

    def _base_audio(self, language: str, text: str, pitch_ratio: float = 1.0) -> np.ndarray:
        base = self._base(language)
        chunks = chunk_text(normalise(text, language), language)
        return np.concatenate([base.speak_at_pitch(chunk, 1.0, pitch_ratio) for chunk in chunks])

    def _corpus_audio(self, language: str, pitch_ratio: float = 1.0) -> np.ndarray:
        """The base voice's corpus, spoken once per engine and pitch: Piper takes ~4 CPU s over the
        English one, which every build of a Thai or untranscribed reference pairs with. Only the pitches
        of the latest CORPUS_CACHE voices are kept (with the default wave_share of 0 there is one: 1.0)."""
        key = (language, round(pitch_ratio, 4))
        with self._corpus_lock:  # builds from two threads would otherwise speak it twice or evict mid-read
            if key not in self._corpus_cache:
                text = _english_corpus() if language == "en" else THAI_CORPUS
                while len(self._corpus_cache) >= CORPUS_CACHE:
                    self._corpus_cache.pop(next(iter(self._corpus_cache)))
                self._corpus_cache[key] = self._base_audio(language, text, pitch_ratio)
            return self._corpus_cache[key]

    def _base_f0(self, language: str) -> float:
        """Median F0 of the base voice over its corpus, computed once per engine."""
        if language not in self._base_f0_cache:
            self._base_f0_cache[language] = median_f0(self._corpus_audio(language))
        return self._base_f0_cache[language]

    # -- building ---------------------------------------------------------------------------
    def build_voice(
        self, references: list[np.ndarray], transcript: str | None = None, progress: Progress | None = None
    ) -> bytes:
        report = progress or (lambda stage, fraction: None)
        if not references:
            raise InvalidArgument("at least one reference recording is needed", field="reference")
        seconds = sum(len(r) for r in references) / REFERENCE_RATE
        if seconds < MIN_REFERENCE_SECONDS:
            raise InvalidArgument(
                f"the reference is {seconds:.1f} s; at least {MIN_REFERENCE_SECONDS:g} s of speech is needed",
                reason="AUDIO_TOO_SHORT",
            )
        started = time.monotonic()
        target_audio = np.concatenate([resample(r, REFERENCE_RATE, RATE) for r in references])
        target_mel = log_mel(target_audio)
        target_speech = target_mel[alignment.speech_frames(target_mel)]
        target_f0 = median_f0(target_audio)
        report("reference analysed", 0.05)
        transcript, parallel_audio, parallel_mel, source = self._transcribed(transcript, target_audio, target_mel)
        report(f"transcript {source}", 0.1)
        conversions = {}
        said_in = transcript_language(transcript) if transcript else None
        for index, language in enumerate(self.languages):
            parallel = language == said_in  # the base voice of the transcript's language can say it too
            base_f0 = self._base_f0(language)
            limit = self.fit_options.max_pitch_ratio
            pitch_ratio = float(np.clip(target_f0 / base_f0, 1 / limit, limit)) if target_f0 and base_f0 else 1.0
            wave_pitch, _ = self.fit_options.split_pitch(pitch_ratio)
            if parallel and transcript:
                base_audio = self._base_audio(language, transcript, wave_pitch)
                base_mel = log_mel(base_audio)
                content = (
                    (self.content(base_audio, len(base_mel)), self.content(parallel_audio, len(parallel_mel)))
                    if self.content
                    else None
                )
                base_index, target_index = alignment.parallel_pairs(base_mel, parallel_mel, content)
                target_pairs = parallel_mel[target_index]
            else:
                base_mel = log_mel(self._corpus_audio(language, wave_pitch))
                base_index, target_index = alignment.nearest_pairs(base_mel, target_mel)
                target_pairs = target_mel[target_index]
            fitted = conversion.fit(base_mel[base_index], target_pairs, pitch_ratio, target_speech, self.fit_options)
            if parallel:  # nearest pairs match sounds too loosely to learn per-sound corrections from
                missed = target_pairs - fitted(base_mel[base_index])
                fitted.classes = sound_classes.fit(base_mel, base_index, missed, self.fit_options.class_strength)
            fitted.report.update(
                parallel=parallel,
                transcript=source,
                base_f0=base_f0,
                target_f0=target_f0,
                sound_classes=len(fitted.classes.centres) if fitted.classes else 0,
            )
            conversions[base_name(language)] = fitted.to_state()
            report(f"{language}: fitted", 0.05 + 0.95 * (index + 1) / len(self.languages))
        harmonics = fine_structure.fit(target_audio, target_mel) if self.fit_options.fine_structure else None
        artifact = save_artifact(
            {
                "kind": ARTIFACT_KIND,
                "reference_seconds": seconds,
                "build_seconds": time.monotonic() - started,
                "conversions": conversions,
            }
            | ({"fine_structure": harmonics.to_state()} if harmonics else {})
        )
        report("done", 1.0)
        return artifact

    def _transcribed(
        self, transcript: str | None, audio: np.ndarray, mel: np.ndarray
    ) -> tuple[str | None, np.ndarray, np.ndarray, str]:
        """(transcript, the audio and log-mel it covers, "given" | "heard" | "none"): the caller's
        transcript, else what Whisper hears in the reference (unsure stretches cut out), else none."""
        if transcript:
            return transcript, audio, mel, "given"
        if self.fit_options.hear_references and self.content:
            heard = self.content.hear(audio)
            if heard is not None:
                return heard.text, heard.samples, log_mel(heard.samples), "heard"
        return None, audio, mel, "none"

    @staticmethod
    def load_voice(artifact: bytes) -> EmbeddedVoice:
        return EmbeddedEngine._voice(load_artifact(artifact, ARTIFACT_KIND, "by the embedded engine"))

    @staticmethod
    def _voice(state: dict) -> EmbeddedVoice:
        try:
            harmonics = state.get("fine_structure")
            return EmbeddedVoice(
                {name: conversion.Conversion.from_state(s) for name, s in state["conversions"].items()},
                fine_structure.FineStructure.from_state(harmonics) if harmonics else None,
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgument("the voice artifact is incomplete", field="voice") from exc

    @staticmethod
    def describe_voice(artifact: bytes) -> dict:
        """What a built voice holds, for an operator, without speaking with it: per base voice, where its
        transcript came from, the pairs and sound classes it learned from, the pitch and formant moves;
        and how many reference frames its fine-structure pool keeps (0: none, as in voices built before it)."""
        state = load_artifact(artifact, ARTIFACT_KIND, "by the embedded engine")
        voice = EmbeddedEngine._voice(state)
        pool = voice.fine_structure
        return {
            "engine": EmbeddedEngine.name,
            "reference_seconds": round(float(state.get("reference_seconds", 0.0)), 2),
            "build_seconds": round(float(state.get("build_seconds", 0.0)), 2),
            "base_voices": {name: _conversion_summary(fitted) for name, fitted in voice.conversions.items()},
            "fine_structure": {
                "frames": len(pool.log_f0) if pool else 0,
                "split": pool.split if pool else None,
                "f0_hz": [round(float(np.exp(pool.log_f0[0])), 1), round(float(np.exp(pool.log_f0[-1])), 1)]
                if pool
                else None,
            },
        }

    # -- speaking ---------------------------------------------------------------------------
    def _vocode_windows(self, mel: np.ndarray, sizes: Iterator[int]) -> Iterator[np.ndarray]:
        """Vocode in windows of the given sizes (short ones first, so audio starts early), each with
        context frames on both sides so the seams are inaudible."""
        start = 0
        while start < len(mel):
            end = min(len(mel), start + next(sizes))
            low, high = max(0, start - VOCODER_CONTEXT), min(len(mel), end + VOCODER_CONTEXT)
            yield self.vocoder(mel[low:high])[(start - low) * HOP : (end - low) * HOP]
            start = end

    def _stream(self, text: str, voice: EmbeddedVoice | None, options: SpeechOptions) -> Iterator[np.ndarray]:
        loaded = voice
        convert = loaded.conversions[base_name(options.language)] if loaded else None
        harmonics = loaded.fine_structure if loaded else None
        pitch_ratio = 2.0 ** (options.pitch / 12.0)
        voice_ratio = convert.wave_pitch if convert else 1.0
        resampler = StreamResampler(RATE, self.output_rate(options))
        base = self._base(options.language)
        # One schedule across the whole text: the short windows happen once, at the very start.
        sizes = itertools.chain(START_WINDOWS, itertools.repeat(VOCODER_WINDOW))
        chunks = chunk_text(normalise(text, options.language), options.language)
        for chunk in split_first(chunks, options.language) if options.realtime else chunks:
            samples = base.speak_at_pitch(chunk, options.speed, voice_ratio * pitch_ratio)
            if convert is None and abs(pitch_ratio - 1.0) < 1e-4:
                pieces = iter([samples])  # the base voice as it is: no vocoder round trip
            else:
                mel = log_mel(samples)
                mel = convert(mel, pitch_ratio) if convert else conversion.envelope_warp(mel, 1.0 / pitch_ratio)
                if harmonics is not None and convert is not None:  # each frame's pitch: the audio's, moved
                    mel = harmonics(mel, f0_per_frame(samples, len(mel)) * convert.mel_pitch)
                pieces = self._vocode_windows(mel, sizes)
            for piece in pieces:
                out = resampler(piece)
                if len(out):
                    yield out
        tail = resampler(None)
        if len(tail):
            yield tail
