"""Piper (VITS) voices run with onnxruntime: IPA phonemes → ids → 22.05 kHz audio.

Only the voice's ONNX model and JSON config are used (from the model store); the GPL piper-tts
package is neither imported nor run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.models.onnx import cpu_session
from services.synthesis.engine.phonemize import phonemize

PAD, BOS, EOS = "_", "^", "$"


@dataclass(frozen=True)
class PiperConfig:
    sample_rate: int
    espeak_voice: str
    phoneme_ids: dict[str, int]
    noise_scale: float
    length_scale: float
    noise_w: float

    @classmethod
    def load(cls, path: Path) -> PiperConfig:
        raw = json.loads(path.read_text())
        return cls(
            sample_rate=int(raw["audio"]["sample_rate"]),
            espeak_voice=raw.get("espeak", {}).get("voice", "en-us"),
            phoneme_ids={k: v[0] for k, v in raw["phoneme_id_map"].items()},
            noise_scale=float(raw["inference"]["noise_scale"]),
            length_scale=float(raw["inference"]["length_scale"]),
            noise_w=float(raw["inference"]["noise_w"]),
        )


class PiperVoice:
    def __init__(self, folder: Path, threads: int = 1) -> None:
        self.config = PiperConfig.load(folder / "config.json")
        self.session = cpu_session(folder / "model.onnx", threads)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def ids(self, phonemes: str) -> list[int]:
        table = self.config.phoneme_ids
        ids = [table[BOS], table[PAD]]
        for symbol in phonemes:
            if symbol in table:  # symbols the voice never saw are dropped
                ids += [table[symbol], table[PAD]]
        ids.append(table[EOS])
        return ids

    def speak_phonemes(self, phonemes: str, length_scale: float | None = None) -> np.ndarray:
        ids = np.array([self.ids(phonemes)], dtype=np.int64)
        scales = np.array(
            [self.config.noise_scale, length_scale or self.config.length_scale, self.config.noise_w], dtype=np.float32
        )
        audio = self.session.run(
            None, {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64), "scales": scales}
        )[0]
        return audio.reshape(-1).astype(np.float32)

    def speak(self, text: str, length_scale: float | None = None) -> np.ndarray:
        """Whole text → float32 samples at `sample_rate` (sentences joined with short pauses)."""
        clauses = phonemize(text, self.config.espeak_voice)
        pieces = []
        for clause in clauses:
            pieces.append(self.speak_phonemes(clause, length_scale))
            if clause[-1:] in ".!?":
                pieces.append(np.zeros(int(0.25 * self.sample_rate), np.float32))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
