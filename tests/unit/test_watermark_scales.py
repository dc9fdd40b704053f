"""The mark after tempo and pitch edits, on real speech (two dev voices, tests/data/dev-voices).

One test per class of edit: a pitch-preserving tempo change (FFmpeg `atempo`) slower and faster, a
tempo-preserving pitch shift (`asetrate` + `aresample` + `atempo`) up and down, both at once, and both
followed by an MP3 64 kbps re-encode. Then unmarked speech under the full search, and the bound on
the tags the search reads (what keeps false positives at ≤ 10⁻⁶ per clip by design).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench.audio_edits import pitch, tempo
from kit.audio.codec import decode, encode
from kit.watermark import Watermarker, cells, mark, scales
from kit.watermark.spectrum import stft

RATE = 16000
VOICES = Path(__file__).parents[1] / "data" / "dev-voices"
FEMALE, MALE = "de_Christina_Lindgruen", "de_Klaus_Neubauer"


def speech(name: str) -> np.ndarray:
    samples, rate = soundfile.read(VOICES / f"{name}.flac", dtype="float32")
    assert rate == RATE
    return samples


@pytest.fixture(scope="module")
def marker():
    return Watermarker(bytes(range(32)))


@pytest.fixture(scope="module")
def marked(marker):
    return {name: marker.embed(speech(name), RATE, 0x5EED0000 + i) for i, name in enumerate((FEMALE, MALE))}


def _mp3(samples: np.ndarray) -> np.ndarray:
    return decode(encode(samples, RATE, "mp3", 64000), RATE).samples


EDITS = {
    "tempo 0.8x": (FEMALE, lambda a: tempo(a, RATE, 0.8), 0.8, 1.0),
    "tempo 1.5x": (MALE, lambda a: tempo(a, RATE, 1.5), 1.5, 1.0),
    "pitch +2 semitones": (MALE, lambda a: pitch(a, RATE, 2.0), 1.0, 2 ** (2 / 12)),
    "pitch -2 semitones": (FEMALE, lambda a: pitch(a, RATE, -2.0), 1.0, 2 ** (-2 / 12)),
    "tempo 1.1x and pitch +1": (FEMALE, lambda a: pitch(a, RATE, 1.0, 1.1), 1.1, 2 ** (1 / 12)),
    "tempo 0.9x, pitch -1, then mp3 64k": (MALE, lambda a: _mp3(pitch(a, RATE, -1.0, 0.9)), 0.9, 2 ** (-1 / 12)),
    "tempo 1.25x then mp3 64k": (FEMALE, lambda a: _mp3(tempo(a, RATE, 1.25)), 1.25, 1.0),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_mark_survives_the_edit_on_real_speech(marker, marked, edit):
    voice, attack, true_tempo, true_pitch = EDITS[edit]
    edited = attack(marked[voice])
    assert not marker.detect(edited, RATE, search_scales=False).watermarked  # the edit defeats the plain reading
    found = marker.detect(edited, RATE)
    assert found.watermarked and found.generation_id == 0x5EED0000 + (voice == MALE)
    # The scale it was read at is the edit's own (within the grid's steps).
    assert abs(np.log(found.tempo / true_tempo)) < 0.03
    assert abs(np.log(found.pitch / true_pitch)) < 0.01


def test_unmarked_real_speech_stays_unmarked_under_the_full_search(marker, marked):
    for name in (FEMALE, MALE):
        assert not marker.detect(speech(name), RATE).watermarked
        assert not marker.detect(tempo(speech(name), RATE, 1.25), RATE).watermarked
    # Marked under another key: nothing to find either.
    assert not Watermarker(bytes(range(1, 33))).detect(pitch(marked[FEMALE], RATE, 1.0), RATE).watermarked


def test_the_search_reads_a_bounded_number_of_tags(marker, monkeypatch):
    """False positives are bounded by the tags read, however wide the grid: 672 on the clip as it
    is, at most TAG_BUDGET in the scale search."""
    read: list[int] = []
    original = Watermarker._read_ids

    def counting(self, bits):
        read.append(len(bits))
        return original(self, bits)

    monkeypatch.setattr(Watermarker, "_read_ids", counting)
    monkeypatch.setattr(mark, "PRESENCE", 0.0)  # let every decoded candidate through the presence test
    assert not marker.detect(speech(MALE), RATE).watermarked
    assert read[0] == mark.SUB_OFFSETS * cells.SLOTS
    assert sum(read[1:]) == mark.TAG_BUDGET


def test_the_dense_reading_at_unit_scale_is_the_plain_cell_grid():
    x = speech(FEMALE)
    exact = cells.cell_levels(cells.band_power(stft(x)))
    unit_row = scales.PLAN[0]
    assert unit_row.tempo == 1.0 and unit_row.pitches[0] == 1.0
    dense = scales.DenseSpectrogram(x).at(unit_row)
    assert dense is not None
    levels = dense.levels[0, 0]
    assert np.allclose(levels, exact[: len(levels)], atol=1e-3)


def test_the_grid_covers_the_promised_edits():
    assert scales.TEMPOS.min() <= 0.8 and scales.TEMPOS.max() >= 1.5
    assert scales.PITCHES.min() <= 2 ** (-2 / 12) and scales.PITCHES.max() >= 2 ** (2 / 12)
    for grid, step in ((scales.TEMPOS, scales.TEMPO_STEP), (scales.PITCHES, scales.PITCH_STEP)):
        ordered = np.sort(grid)
        assert np.allclose(ordered[1:] / ordered[:-1], step)
        assert grid[0] == 1.0  # nearest first: light edits are found early
    read = {(round(row.tempo, 4), round(float(p), 4)) for row in scales.PLAN for p in row.pitches}
    nearest = lambda grid, value: round(float(grid[np.argmin(np.abs(np.log(grid / value)))]), 4)  # noqa: E731
    for tempo_, pitch_ in [
        (1.5, 1.0),
        (0.8, 1.0),
        (1.0, 2 ** (2 / 12)),
        (1.0, 2 ** (-2 / 12)),
        (1.1, 2 ** (1 / 12)),
        (1.05, 1.05),
    ]:
        assert (nearest(scales.TEMPOS, tempo_), nearest(scales.PITCHES, pitch_)) in read
    assert len(read) == scales.READINGS < len(scales.TEMPOS) * len(scales.PITCHES) / 2  # not the whole rectangle
