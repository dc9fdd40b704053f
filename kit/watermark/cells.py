"""Where the mark lives and what the detector reads: the cell grid, its features and weights.

A slot is 2 STFT hops (64 ms); a block of 42 slots (2.69 s) carries every coded bit once. A cell is
3 adjacent FFT bins × one slot inside 1.7–3.8 kHz (a band that survives 8 kHz resampling, a 4 kHz
low-pass and a 1.5 kHz high-pass). Features: each cell's level with the slot's mean (loudness), the
group's mean over the clip (tilt) and the mean of its two neighbouring groups removed. The last step
takes out most of the speech's own spectral shape (the host's share of a bit's projection drops from
3.7 to 2.0 dB), and with it most of what embedding has to spend to cancel it. Weights say how far a
cell stands above its group's noise floor (a low percentile over the clip): noise or a second voice
drowns quiet cells first, so they count less.
"""

from __future__ import annotations

import numpy as np

from kit.watermark.spectrum import HOP, N_FFT, RATE

SLOT_HOPS = 2  # a slot is 2 hops = 1024 samples = 64 ms
SLOTS = 42  # slots per block (2.69 s): any 3 s piece, even 5% faster, covers every place of a block
SLOT_SAMPLES = SLOT_HOPS * HOP
SLOT_SECONDS = SLOT_SAMPLES / RATE
BLOCK_SECONDS = SLOTS * SLOT_SECONDS  # 2.688 s
LOW_HZ, HIGH_HZ = 1700, 3800
GROUP = 3  # adjacent bins that share a chip: the pattern then survives re-analysis (window leakage)
FIRST_BIN = int(LOW_HZ * N_FFT / RATE)
GROUPS = (int(HIGH_HZ * N_FFT / RATE) - FIRST_BIN) // GROUP
BINS = np.arange(FIRST_BIN, FIRST_BIN + GROUPS * GROUP)

FLOOR_DB = -50.0  # cells quieter than this (dB re full scale, per bin) are pauses and carry no mark
NOISE_PERCENTILE = 20  # a group's noise floor: this percentile of its cell levels over the clip
RELIABLE_DB = 12.0  # a cell this far above its group's noise floor counts fully; at the floor, not at all


def cell_mean(per_bin: np.ndarray) -> np.ndarray:
    """(…, hops, BINS) → (…, slots, GROUPS): the mean over a slot's hops and a group's bins."""
    slots = per_bin.shape[-2] // SLOT_HOPS
    lead = per_bin.shape[:-2]
    groups = per_bin[..., : slots * SLOT_HOPS, :].reshape(*lead, slots, SLOT_HOPS, GROUPS, GROUP).sum(axis=-1)
    return groups.sum(axis=-2) / (SLOT_HOPS * GROUP)  # two contiguous sums: much faster than one over (hops, bins)


def power(spectrum: np.ndarray) -> np.ndarray:
    """|X|², without the square root np.abs would take."""
    return spectrum.real**2 + spectrum.imag**2


def band_power(spec: np.ndarray) -> np.ndarray:
    """|X|² of the mark's bins over whole slots: (slots × SLOT_HOPS, BINS)."""
    slots = len(spec) // SLOT_HOPS
    return power(spec[: slots * SLOT_HOPS, BINS].astype(np.complex128))


def decibels(power: np.ndarray) -> np.ndarray:
    """|X|² → dB, with a floor far below anything audible."""
    return 10 * np.log10(np.maximum(power, 1e-18))


def cell_levels(power: np.ndarray) -> np.ndarray:
    """Log magnitude (dB) per cell (…, slots, GROUPS) from |X|² of the band (…, hops, BINS)."""
    return cell_mean(decibels(power))


def reliable(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell levels (…, slots, groups) → (features, weights), both zero in pauses."""
    active = levels > FLOOR_DB
    weight = active.astype(levels.dtype)
    slot_mean = (levels * weight).sum(axis=-1, keepdims=True) / np.maximum(weight.sum(axis=-1, keepdims=True), 1)
    centred = (levels - slot_mean) * weight
    group_mean = centred.sum(axis=-2, keepdims=True) / np.maximum(weight.sum(axis=-2, keepdims=True), 1)
    centred = (centred - group_mean) * weight
    padded = np.pad(centred, [(0, 0)] * (levels.ndim - 1) + [(1, 1)], mode="edge")
    centred = (centred - (padded[..., :-2] + padded[..., 2:]) / 2) * weight
    floor = np.percentile(np.where(active, levels, FLOOR_DB), NOISE_PERCENTILE, axis=-2, keepdims=True)
    return centred, np.clip((levels - floor) / RELIABLE_DB, 0.0, 1.0) * weight


def blocks(array: np.ndarray) -> np.ndarray:
    """(…, slots, groups) → (…, blocks, SLOTS, groups), the last block padded with zeros."""
    slots = array.shape[-2]
    count = -(-slots // SLOTS)
    padded = np.zeros(array.shape[:-2] + (count * SLOTS, array.shape[-1]), array.dtype)
    padded[..., :slots, :] = array
    return padded.reshape(*array.shape[:-2], count, SLOTS, array.shape[-1])


def chip_matrix(pattern: np.ndarray) -> np.ndarray:
    """(bits, SLOTS, groups) chips → (SLOTS × groups, bits), the layout `correlate` multiplies by."""
    return np.ascontiguousarray(pattern.reshape(len(pattern), -1).T)


def correlate(values: np.ndarray, chips: np.ndarray) -> np.ndarray:
    """Σ over each block's cells of values × chips: (…, slots, groups) × chip_matrix → (…, blocks, bits)."""
    folded = blocks(values)
    return folded.reshape(*folded.shape[:-2], -1) @ chips
