"""Per-voice conversion of base-voice log-mel frames into the reference speaker's, fitted at clone time.

Fitted on frame pairs that say the same sound in the base voice and in the reference (alignment.py):
1. global moves: the pitch ratio (median F0 of reference / base), split between the base voice's
   audio (`wave_pitch`: base_voice.speak_at_pitch, exact, but it scales formants too) and the
   mel frames' harmonics (`mel_pitch`: features.shift), and an envelope warp (the formant ratio
   that best maps paired base frames onto reference frames, on a grid);
2. per-band statistics: each mel band's mean and spread moved from the base's to the reference's;
3. a linear map of the whole frame (80 × 80 ridge regression on the pairs, closed form), applied
   with a strength α and followed by global-variance compensation: regression toward the mean
   flattens the spectra (their spread shrinks about 2×), which costs intelligibility.
4. with a transcript, per-sound corrections on top (sound_classes.py), finer as the reference grows.
(The engine then gives voiced frames the reference's own harmonics: fine_structure.py.)
α trades similarity for intelligibility (docs/engine.md has the measured curve). A small neural
mapper trained on the same pairs and kNN frame selection were measured too and did no better.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.synthesis.engine import sound_classes
from services.synthesis.engine.features import shift, split_envelope, warp
from services.synthesis.engine.interface import array_values, tensor_state
from services.synthesis.engine.mel import N_MELS

FORMANT_GRID = np.round(np.arange(0.80, 1.401, 0.025), 3)  # formant moves relative to the unmoved base


@dataclass
class FitOptions:
    strength: float = 0.5  # α: 0 = global moves and band statistics only, 1 = the full linear map
    ridge: float = 300.0  # shrinks the map toward identity; fewer pairs → relatively stronger
    wave_share: float = 0.0  # share (in log) of the pitch move done on the base audio; the rest in mel
    max_pitch_ratio: float = 2.0  # larger moves (a male base to a high voice) are capped here
    class_strength: float = 0.5  # weight of the per-sound corrections (parallel references only); 0 = off
    fine_structure: bool = True  # voiced frames take the reference's harmonics at their pitch (fine_structure.py)
    hear_references: bool = True  # transcribe references given without a transcript (Whisper), for parallel pairs

    def split_pitch(self, ratio: float) -> tuple[float, float]:
        """(wave_pitch, mel_pitch) whose product is `ratio`."""
        wave = float(ratio**self.wave_share)
        return wave, float(ratio / wave)


@dataclass
class Conversion:
    """One base voice → one reference speaker."""

    wave_pitch: float
    mel_pitch: float
    formant_ratio: float
    source_mean: np.ndarray
    source_std: np.ndarray
    target_mean: np.ndarray
    target_std: np.ndarray
    matrix: np.ndarray  # (80, 80) residual map in normalised space
    bias: np.ndarray  # (80,)
    spread: np.ndarray  # (80,) global-variance compensation at this strength
    strength: float
    report: dict = field(default_factory=dict)
    classes: sound_classes.SoundClasses | None = None  # absent in voices built before them: still loadable

    def to_state(self) -> dict:
        """Tensors and plain values only, so the artifact loads with torch.load(weights_only=True)."""
        state = tensor_state({k: v for k, v in vars(self).items() if k != "classes"})
        return state | ({"classes": self.classes.to_state()} if self.classes else {})

    @classmethod
    def from_state(cls, state: dict) -> Conversion:
        classes = sound_classes.SoundClasses.from_state(state["classes"]) if "classes" in state else None
        return cls(**array_values({k: v for k, v in state.items() if k != "classes"}), classes=classes)

    def __call__(self, base_mel: np.ndarray, pitch_ratio: float = 1.0) -> np.ndarray:
        """Log-mel (frames, 80) of base speech already moved by self.wave_pitch × pitch_ratio →
        the reference speaker's log-mel. `pitch_ratio` is the caller's own pitch option: its formant
        move is undone so that only the pitch changes."""
        moved = shift(base_mel, self.mel_pitch, self.formant_ratio / pitch_ratio)
        x = (moved - self.source_mean) / self.source_std
        y = x + self.strength * (x @ self.matrix + self.bias)
        centre = y.mean(axis=0)
        y = centre + (y - centre) * self.spread
        out = y * self.target_std + self.target_mean
        if self.classes is not None:
            out += self.classes(base_mel)
        return out.astype(np.float32)


def envelope_warp(log_mel: np.ndarray, ratio: float) -> np.ndarray:
    """Move the formants (the spectral envelope) by `ratio`, leaving the harmonics in place."""
    return shift(log_mel, 1.0, ratio)


def best_formant_ratio(base: np.ndarray, target: np.ndarray, pitch_ratio: float = 1.0) -> float:
    """The envelope warp whose warped base envelopes best match the paired reference envelopes
    (after removing each band's mean, so EQ does not masquerade as a formant move). The base was
    moved by `pitch_ratio` (formants included), so the grid is searched relative to that."""
    base_env, _ = split_envelope(base)
    target_env, _ = split_envelope(target)
    target_env = target_env - target_env.mean(axis=0)
    errors = []
    grid = FORMANT_GRID / pitch_ratio
    for ratio in grid:
        moved = warp(base_env, float(ratio))
        errors.append(np.abs(moved - moved.mean(axis=0) - target_env).mean())
    return float(grid[int(np.argmin(errors))])


def fit(
    base_pairs: np.ndarray,
    target_pairs: np.ndarray,
    pitch_ratio: float,
    target_frames: np.ndarray,
    options: FitOptions | None = None,
) -> Conversion:
    """Fit on paired frames (the same sound in base speech already moved by
    options.split_pitch(pitch_ratio)[0] on the waveform, and in the reference).
    `target_frames`: all reference speech frames (for the band statistics)."""
    options = options or FitOptions()
    wave_pitch, mel_pitch = options.split_pitch(pitch_ratio)
    formant_ratio = best_formant_ratio(base_pairs, target_pairs, wave_pitch)
    moved = shift(base_pairs, mel_pitch, formant_ratio)
    source_mean, source_std = moved.mean(axis=0), moved.std(axis=0) + 1e-3
    target_mean, target_std = target_frames.mean(axis=0), target_frames.std(axis=0) + 1e-3
    x = (moved - source_mean) / source_std
    y = (target_pairs - target_mean) / target_std
    residual = y - x
    matrix = np.linalg.solve(x.T @ x + options.ridge * np.eye(N_MELS), x.T @ (residual - residual.mean(axis=0)))
    bias = (residual - x @ matrix).mean(axis=0)
    mapped = x + options.strength * (x @ matrix + bias)
    # restore the reference's spread that the regression took away, in proportion to the strength
    spread = (y.std(axis=0) / (mapped.std(axis=0) + 1e-6)) ** options.strength
    error = float(np.abs((mapped - mapped.mean(axis=0)) * spread + mapped.mean(axis=0) - y).mean())
    return Conversion(
        wave_pitch,
        mel_pitch,
        formant_ratio,
        source_mean.astype(np.float32),
        source_std.astype(np.float32),
        target_mean.astype(np.float32),
        target_std.astype(np.float32),
        matrix.astype(np.float32),
        bias.astype(np.float32),
        spread.astype(np.float32),
        options.strength,
        {"pairs": len(base_pairs), "fit_error": error},
    )
