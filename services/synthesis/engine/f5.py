"""F5-TTS as a voice engine (`TIMBRE_ENGINE=f5:<model>`, e.g. f5:thai): zero-shot cloning from a
reference and its transcript, in Thai and English (docs/engine-f5.md).

F5 continues its reference: it is given the reference's mel frames and transcript followed by the
text to say, and fills in the frames that follow by flow matching. So the voice artifact holds the
reference itself (16 kHz, 15 s at most) and its transcript (given, or heard by Whisper); loading it
computes the reference's mel once. The model runs on the GPU when there is one; each worker process
holds one copy (f5_model.load_model) and speaks one request at a time on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from kit.audio.codec import resample
from kit.errors import InvalidArgument
from kit.models import ModelStore
from services.synthesis.engine.f5_model import load_model, require, tokens
from services.synthesis.engine.f5_text import FIRST_PIECE_CHARS, MAX_PIECE_CHARS, MIN_UNITS, pieces, units
from services.synthesis.engine.f5_text import with_reference as prompt_of
from services.synthesis.engine.f5_transcript import Transcriber, WhisperTranscriber
from services.synthesis.engine.interface import (
    REFERENCE_RATE,
    Progress,
    SpeechOptions,
    VoiceEngine,
    load_artifact,
    save_artifact,
)

ARTIFACT_KIND = "timbre-f5-v1"
MAX_REFERENCE_SECONDS = 15  # F5 trained on clips up to 30 s, reference and continuation together
CUT_FROM_SECONDS = 10  # a longer reference is cut at its quietest moment between 10 and 15 s
MAX_TOTAL_SECONDS = 22  # reference + one piece: F5's own inference bound
TARGET_RMS = 0.1  # F5 trained on speech at least this loud; quieter references are raised, output lowered
DEFAULT_STEPS = 16  # flow steps (NFE); F5's empirically pruned schedule is tuned for 16
CFG_STRENGTH = 2.0
SWAY_SAMPLING = -1.0


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class F5Voice:
    mel: torch.Tensor  # (1, frames, mels) of the loudness-matched reference, on the engine's device
    prompt: str  # the reference's transcript, ended as a sentence
    gain: float  # applied to the reference; the output is divided by it
    seconds: float
    transcript_source: str  # given | heard


class F5Engine(VoiceEngine):
    languages = ("th", "en")

    def __init__(
        self,
        model: str,
        store: ModelStore | None = None,
        on: str | None = None,
        steps: int | None = None,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.store = store or ModelStore()
        self.model_name = model
        self.name = f"f5-{model}"
        self.folder, checkpoint = require(self.store, model)
        self.device = on or device()
        self.model = load_model(str(self.folder), str(checkpoint), self.device)
        self.native_rate = self.model.rate
        self.licence = self.model.licence
        self.steps = steps or int(os.environ.get("TIMBRE_F5_STEPS", DEFAULT_STEPS))
        self.transcriber = transcriber or WhisperTranscriber(self.store)

    # -- building ---------------------------------------------------------------------------
    def build_voice(
        self, references: list[np.ndarray], transcript: str | None = None, progress: Progress | None = None
    ) -> bytes:
        report = progress or (lambda stage, fraction: None)
        if not references:
            raise InvalidArgument("at least one reference recording is needed", field="reference")
        audio = np.concatenate([np.asarray(r, dtype=np.float32).reshape(-1) for r in references])
        if len(audio) < REFERENCE_RATE // 2:
            raise InvalidArgument("the reference is shorter than half a second", field="reference")
        if len(audio) > MAX_REFERENCE_SECONDS * REFERENCE_RATE:
            audio = _cut(audio)
            transcript = None  # a transcript of the whole says more than the cut keeps: hear the cut
        source = "given"
        if not (transcript and transcript.strip()):
            report("transcript", 0.2)
            transcript, source = self.transcriber(audio), "heard"
            if not transcript:
                raise InvalidArgument(
                    "no transcript was given and none was heard in the reference (Thai or English speech); "
                    "give the words the reference says",
                    field="transcript",
                )
        state = {
            "kind": ARTIFACT_KIND,
            "model": self.model_name,
            "reference": torch.from_numpy((np.clip(audio, -1, 1) * 32767).astype(np.int16)),
            "transcript": transcript.strip(),
            "transcript_source": source,
        }
        artifact = save_artifact(state)
        report("done", 1.0)
        return artifact

    # -- speaking ---------------------------------------------------------------------------
    def load_voice(self, artifact: bytes) -> F5Voice:
        state = load_artifact(artifact, ARTIFACT_KIND, f"for {self.name}", model=self.model_name)
        audio = resample(state["reference"].numpy().astype(np.float32) / 32767, REFERENCE_RATE, self.native_rate)
        rms = float(np.sqrt(np.mean(np.square(audio)))) if len(audio) else 0.0
        gain = TARGET_RMS / rms if 0 < rms < TARGET_RMS else 1.0
        with torch.inference_mode():
            wave = torch.from_numpy(audio * gain)[None].to(self.device)
            mel = self.model.cfm.mel_spec(wave).permute(0, 2, 1)
        return F5Voice(
            mel, prompt_of(state["transcript"]), gain, len(audio) / self.native_rate, state["transcript_source"]
        )

    def _stream(self, text: str, voice: F5Voice | None, options: SpeechOptions) -> Iterator[np.ndarray]:
        if voice is None:
            raise InvalidArgument("F5 speaks only in a cloned voice: give a voice artifact", field="voice")
        # each piece must fit beside the reference in F5's window: as many units as the reference
        # speaks in the seconds left
        per_second = units(voice.prompt) / max(voice.seconds, 1e-3)
        left = max(MAX_TOTAL_SECONDS - voice.seconds, 4.0) * options.speed
        limit = int(min(max(per_second * left, FIRST_PIECE_CHARS), MAX_PIECE_CHARS))
        return self._pieces(pieces(text, options.language, limit), voice, options)

    def _pieces(self, texts: list[str], voice: F5Voice, options: SpeechOptions) -> Iterator[np.ndarray]:
        rate = self.output_rate(options)
        for piece in texts:
            audio = self._speak(piece, voice, options.speed)
            if abs(options.pitch) > 1e-6:
                audio = _pitch_shift(audio, self.native_rate, options.pitch)
            yield resample(audio, self.native_rate, rate)

    def _speak(self, piece: str, voice: F5Voice, speed: float) -> np.ndarray:
        reference_frames = voice.mel.shape[1]
        frames_per_unit = reference_frames / max(units(voice.prompt), 1)
        duration = reference_frames + int(frames_per_unit * max(units(piece), MIN_UNITS) / speed)
        text = tokens(voice.prompt + piece)
        with self.model.lock, torch.inference_mode():
            mel, _ = self.model.cfm.sample(
                cond=voice.mel,
                text=[text],
                duration=duration,
                steps=self.steps,
                cfg_strength=CFG_STRENGTH,
                sway_sampling_coef=SWAY_SAMPLING,
            )
            wave = self.model.vocoder(mel[:, reference_frames:, :].permute(0, 2, 1).float())
        return (wave[0].cpu().numpy() / voice.gain).astype(np.float32)


def _cut(audio: np.ndarray) -> np.ndarray:
    """The reference up to its quietest 20 ms between CUT_FROM_SECONDS and MAX_REFERENCE_SECONDS: a
    pause, where a cut splits no word."""
    frame = REFERENCE_RATE // 50
    start, end = CUT_FROM_SECONDS * REFERENCE_RATE // frame, MAX_REFERENCE_SECONDS * REFERENCE_RATE // frame
    energy = np.square(audio[: end * frame]).reshape(-1, frame).mean(axis=1)
    return audio[: (start + int(np.argmin(energy[start:end]))) * frame]


def _pitch_shift(audio: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """The caller's pitch option (F5 has no pitch control): stretched in time by the phase vocoder,
    then resampled back to its length. torchaudio's own pitch_shift resamples at the exact ratio,
    whose huge filter takes ~30 s per second of audio on one core; a ratio to 1/1000 takes
    milliseconds and is off by under 0.1 %."""
    import torchaudio

    factor = 2 ** (semitones / 12)
    n_fft, hop = 1024, 256
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(torch.from_numpy(audio), n_fft, hop, window=window, return_complex=True)
    advance = torch.linspace(0, math.pi * hop, n_fft // 2 + 1)[:, None]
    stretched = torchaudio.functional.phase_vocoder(spectrum, rate=1 / factor, phase_advance=advance)
    longer = torch.istft(stretched, n_fft, hop, window=window, length=round(len(audio) * factor)).numpy()
    shifted = resample(longer, round(rate * factor), rate)[: len(audio)]
    return np.pad(shifted, (0, len(audio) - len(shifted))).astype(np.float32)
