"""Reading the cells after tempo and pitch edits: the grid scaled along time and frequency separately.

A pitch-preserving tempo change (WSOLA: FFmpeg's `atempo`, a player's 1.25×/1.5×) scales the time
axis of the spectrogram and leaves frequencies where they were; a tempo-preserving pitch shift scales
the frequency axis and leaves time alone; resampling scales both by the same factor. So the detector
reads the clip's cells at a grid of (tempo, pitch) pairs, each axis on its own: the log power is
computed once on a dense hop (4 ms), a tempo picks the frames each slot's two hops fall on, and a
pitch reads each group's bins at bin·pitch (linear interpolation of the log power between bins).

The grid is as coarse as the cells allow: on 5 s clips a tempo decodes within about ±2% of the
truth (±2.7% on most voices) and a pitch within ±0.3–0.6%, so tempos step by 2% and pitches by 0.6%,
each read at three offsets a third of a slot apart (two left one voice in 20 undetected at 1.5×;
whole slots are the block starts' business). Long clips are read in windows of WINDOW_SECONDS so that a
tempo's error does not pile up over more slots than that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kit.watermark.cells import BINS, GROUP, GROUPS, SLOT_HOPS, SLOT_SAMPLES, SLOTS, decibels, power
from kit.watermark.spectrum import HOP, N_FFT, stft

DENSE_HOP = 64  # 4 ms: a hop read at any tempo is at most 2 ms from a computed frame
TEMPO_STEP, TEMPO_LOW, TEMPO_HIGH = 1.02, 0.78, 1.56
PITCH_STEP, PITCH_LOW, PITCH_HIGH = 1.006, 0.885, 1.13
# Tempo and pitch changed together: every pair inside this box (a 1.1× speed-up with a semitone up,
# a resampling by up to ±8%); outside it, tempo changes at the original pitch and pitch shifts at the
# original tempo. The whole rectangle would cost three times as much for edits no tool makes by default.
BOTH_TEMPO, BOTH_PITCH = (0.88, 1.2), (0.917, 1.09)  # ±1.5 semitones
OFFSETS = (0, SLOT_SAMPLES // 3, 2 * SLOT_SAMPLES // 3)  # within a slot; whole slots are the block starts' business
WINDOW_SECONDS = 5.0
MAX_WINDOWS = 6  # a long clip is searched in this many windows spread over it (the mark repeats every 2.7 s)
# The bins any pitch of the grid reads (one spare on each side for the interpolation).
LOW_BIN = int(np.floor(BINS[0] * PITCH_LOW)) - 1
HIGH_BIN = int(np.ceil(BINS[-1] * PITCH_HIGH)) + 2


def _geometric(step: float, low: float, high: float) -> np.ndarray:
    """step**k for every k that lands in [low, high], 1.0 included, nearest to 1.0 first."""
    ks = np.arange(int(np.ceil(np.log(low) / np.log(step))), int(np.floor(np.log(high) / np.log(step))) + 1)
    return step ** ks[np.argsort(np.abs(ks), kind="stable")]


TEMPOS = _geometric(TEMPO_STEP, TEMPO_LOW, TEMPO_HIGH)
PITCHES = _geometric(PITCH_STEP, PITCH_LOW, PITCH_HIGH)


def _pitch_matrix(pitches: np.ndarray) -> np.ndarray:
    """(LOW_BIN…HIGH_BIN bins, pitches × GROUPS): each group's mean log power with its bins read at bin·pitch."""
    matrix = np.zeros((HIGH_BIN - LOW_BIN, len(pitches), GROUPS))
    group = np.arange(len(BINS)) // GROUP
    for p, pitch in enumerate(pitches):
        position = BINS * pitch - LOW_BIN
        below = np.floor(position).astype(int)
        share = position - below
        column = np.full(len(BINS), p)
        np.add.at(matrix, (below, column, group), (1 - share) / GROUP)
        np.add.at(matrix, (below + 1, column, group), share / GROUP)
    return matrix.reshape(len(matrix), -1).astype(np.float32)


@dataclass(frozen=True)
class Row:
    """One tempo of the plan and the pitches read at it, with the matrix that reads them."""

    tempo: float
    pitches: np.ndarray
    matrix: np.ndarray


def _plan() -> tuple[Row, ...]:
    both = PITCHES[(PITCHES >= BOTH_PITCH[0]) & (PITCHES <= BOTH_PITCH[1])]
    rows = []
    for tempo in TEMPOS:
        if tempo == 1.0:
            pitches = PITCHES  # every pitch shift at the original tempo
        elif BOTH_TEMPO[0] <= tempo <= BOTH_TEMPO[1]:
            pitches = both
        else:
            pitches = PITCHES[:1]  # the original pitch only
        rows.append((float(tempo), pitches))
    matrices = {tuple(p): _pitch_matrix(p) for _, p in rows}  # three distinct pitch sets, one matrix each
    return tuple(Row(tempo, pitches, matrices[tuple(pitches)]) for tempo, pitches in rows)


PLAN = _plan()
READINGS = sum(len(row.pitches) for row in PLAN)  # (tempo, pitch) pairs per window, × OFFSETS


class DenseSpectrogram:
    """The log power of a piece of 16 kHz audio on a DENSE_HOP grid, in the bins any pitch reads."""

    def __init__(self, x: np.ndarray, start: int = 0) -> None:
        self.start = start
        self.levels = decibels(power(stft(x.astype(np.float32), DENSE_HOP)[:, LOW_BIN:HIGH_BIN])).astype(np.float32)
        self.length = len(x)

    def slots(self, tempo: float) -> int:
        """Whole slots of the original that this piece holds at `tempo`, from the latest offset."""
        hops = int((self.length - N_FFT - OFFSETS[-1]) * tempo // HOP) + 1
        return max(hops // SLOT_HOPS, 0)

    def at(self, row: Row) -> Candidates | None:
        """The cells of this piece read at `row`'s tempo and each of its pitches, from each offset."""
        slots = self.slots(row.tempo)
        if slots < SLOTS:
            return None
        hops = np.arange(slots * SLOT_HOPS)
        frames = np.rint((np.array(OFFSETS)[:, None] + hops[None, :] * HOP / row.tempo) / DENSE_HOP).astype(int)
        picked = self.levels[np.minimum(frames, len(self.levels) - 1)]  # (offsets, hops, bins)
        grouped = (picked @ row.matrix).reshape(len(OFFSETS), slots, SLOT_HOPS, len(row.pitches), GROUPS)
        levels = (grouped[:, :, 0] + grouped[:, :, 1]).transpose(2, 0, 1, 3) * np.float32(0.5)
        return Candidates(row, np.ascontiguousarray(levels), self.start)


@dataclass(frozen=True)
class Candidates:
    """Cell levels for every (pitch, offset) pair of a row: levels[pitch, offset] is (slots, GROUPS)."""

    row: Row
    levels: np.ndarray  # (len(row.pitches), len(OFFSETS), slots, GROUPS)
    start: int  # the window's first sample in the clip


def windows(x: np.ndarray, rate: int) -> Iterator[DenseSpectrogram]:
    """The clip in windows of WINDOW_SECONDS, evenly spread so that together they cover it, or at most
    MAX_WINDOWS of them: that bounds the search of a half-hour upload (the plain reading still folds
    the whole clip)."""
    size = int(WINDOW_SECONDS * rate)
    if len(x) <= size * 1.4:
        yield DenseSpectrogram(x)
        return
    count = min(int(np.ceil(len(x) / size)), MAX_WINDOWS)
    for start in np.linspace(0, len(x) - size, count).astype(int):
        yield DenseSpectrogram(x[start : start + size], int(start))
