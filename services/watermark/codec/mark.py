"""Keyed payload watermark: improved spread spectrum (ISS) on the log-magnitude STFT, 1.7–3.8 kHz.

Payload: a 32-bit generation id and a 32-bit keyed tag (HMAC-SHA256 of the id), 64 bits, protected
by a rate-½ convolutional code (140 coded bits, `fec`). A block of 42 slots × 64 ms (2.69 s) carries
every coded bit once and repeats over the whole clip on one grid of slots, so any 3 s piece covers
every place of a block. Cells are 3 FFT bins × 2 hops; each coded bit owns a keyed pseudo-random set
of (slot place, group) cells with ±1 chips.

Features: each cell's level with the slot's mean (loudness), the group's mean over the clip (tilt)
and the mean of its two neighbouring groups removed. The last step takes out most of the speech's
own spectral shape (the host's share of a bit's projection drops from 3.7 to 2.0 dB), and with it
most of what embedding has to spend to cancel it. Weights say how far a cell stands above its
group's noise floor (a low percentile over the clip): noise or a second voice drowns quiet cells
first, so they count less, and the embedder puts its change where the weights are.

Embedding shifts the cells' log magnitude so that each coded bit's weighted projection reaches ±α
in every block, cancelling the speech's own correlation with the chips (Malvar & Florêncio's ISS),
in closed loop (re-analysed as the detector will), and only for bits short of ±α (informed
embedding). The change is multiplicative: it follows the speech's loudness and is absent in silence.

Detection folds every slot of the clip onto its place in the block (partial blocks count too), for
every candidate alignment at once (a circular correlation over the block, by FFT), decodes all
candidates with a soft Viterbi decoder and accepts one whose 32-bit keyed tag matches. The band
survives 8 kHz resampling, a 4 kHz low-pass and a 1.5 kHz high-pass; if no alignment matches,
speed changes of ±1…6% (1% grid) are tried by resampling. Without the key nobody can find the cells,
so nobody can read or forge a mark; with 16 × 42 × 13 ≈ 8,700 candidates per clip, a false detection
has odds of about 1 in 490,000.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from kit.audio.codec import resample
from services.watermark.codec import fec
from services.watermark.codec.spectrum import HOP, N_FFT, RATE, istft, stft

SLOT_HOPS = 2  # a slot is 2 hops = 1024 samples = 64 ms
SLOTS = 42  # slots per block (2.69 s): any 3 s piece, even 5% faster, covers every place of a block
SLOT_SAMPLES = SLOT_HOPS * HOP
LOW_HZ, HIGH_HZ = 1700, 3800
ID_BITS, TAG_BITS = 32, 32
INFO_BITS = ID_BITS + TAG_BITS
CODED_BITS = fec.coded_length(INFO_BITS)
SLOT_SECONDS = SLOT_SAMPLES / RATE
BLOCK_SECONDS = SLOTS * SLOT_SECONDS  # 2.688 s
MIN_SLOTS = SLOTS  # a clip shorter than one block is not searched
SUB_OFFSETS = 16  # alignment search step = slot / 16 = 64 samples
SPEED_SEARCH = (1.0, 0.99, 1.01, 0.98, 1.02, 0.97, 1.03, 0.96, 1.04, 0.95, 1.05, 0.94, 1.06)
FLOOR_DB = -50.0  # cells quieter than this (dB re full scale, per bin) are pauses and carry no mark
NOISE_PERCENTILE = 20  # a band's noise floor: this percentile of its cell levels over the clip
RELIABLE_DB = 12.0  # a cell this far above its band's noise floor counts fully; at the floor, not at all
PASSES = 3
MAX_STEP_DB = 4.0

GROUP = 3  # adjacent bins that share a chip: the pattern then survives re-analysis (window leakage)
_FIRST = int(LOW_HZ * N_FFT / RATE)
_GROUPS = (int(HIGH_HZ * N_FFT / RATE) - _FIRST) // GROUP
_BINS = np.arange(_FIRST, _FIRST + _GROUPS * GROUP)


@dataclass(frozen=True)
class Detection:
    watermarked: bool
    confidence: float  # share of ±α the coded bits still hold (1.0: intact); 0.0 when no mark is found
    generation_id: int | None
    offset_samples: int = 0
    speed: float = 1.0


def _cell_levels(spec: np.ndarray) -> np.ndarray:
    """Log magnitude (dB) per cell (slots, groups): the mean over a slot's hops and a group's bins."""
    slots = len(spec) // SLOT_HOPS
    level = 20 * np.log10(np.maximum(np.abs(spec[: slots * SLOT_HOPS, _BINS]), 1e-9))
    return level.reshape(slots, SLOT_HOPS, _GROUPS, GROUP).mean(axis=(1, 3))


def _reliable(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell levels (slots, groups) → (features, weights), both zero in pauses (see the module doc)."""
    active = levels > FLOOR_DB
    weight = active.astype(np.float64)
    slot_mean = (levels * weight).sum(axis=1, keepdims=True) / np.maximum(weight.sum(axis=1, keepdims=True), 1)
    centred = (levels - slot_mean) * weight
    centred = (centred - centred.sum(axis=0) / np.maximum(weight.sum(axis=0), 1)) * weight
    padded = np.pad(centred, ((0, 0), (1, 1)), mode="edge")
    centred = (centred - (padded[:, :-2] + padded[:, 2:]) / 2) * weight
    # Noise or a second voice compresses the mark in a cell towards nothing as it sinks to the floor.
    floor = np.percentile(np.where(active, levels, FLOOR_DB), NOISE_PERCENTILE, axis=0)
    return centred, np.clip((levels - floor) / RELIABLE_DB, 0.0, 1.0) * weight


def _blocks(array: np.ndarray) -> np.ndarray:
    """(slots, …) → (blocks, SLOTS, …), the last block padded with zeros."""
    blocks = -(-len(array) // SLOTS)
    padded = np.zeros((blocks * SLOTS,) + array.shape[1:], array.dtype)
    padded[: len(array)] = array
    return padded.reshape(blocks, SLOTS, *array.shape[1:])


class Watermarker:
    def __init__(self, key: bytes, strength_db: float = 1.5) -> None:
        if len(key) < 16:
            raise ValueError("the watermark key must have at least 16 bytes")
        self.key = key
        self.strength_db = strength_db
        seed = int.from_bytes(hashlib.blake2b(key, digest_size=8, person=b"timbre-wm").digest(), "little")
        rng = np.random.default_rng(seed)
        cells = SLOTS * _GROUPS
        # Each cell belongs to one coded bit (a keyed permutation, balanced) and carries a ±1 chip.
        owner = (rng.permutation(cells) % CODED_BITS).reshape(SLOTS, _GROUPS)
        chips = rng.choice(np.array([-1.0, 1.0]), size=(SLOTS, _GROUPS))
        onehot = np.zeros((CODED_BITS, SLOTS, _GROUPS))
        onehot[owner, np.arange(SLOTS)[:, None], np.arange(_GROUPS)[None, :]] = 1.0
        self._pattern = onehot * chips  # (coded bits, slots, groups)
        # Their spectra along the block, conjugated, as (frequency, bit, group): the detector
        # correlates them with the folded clip.
        self._pattern_spectrum = np.ascontiguousarray(np.conj(np.fft.rfft(self._pattern, axis=1)).transpose(1, 0, 2))
        self._cells_spectrum = np.ascontiguousarray(np.conj(np.fft.rfft(onehot, axis=1)).transpose(1, 0, 2))

    # --- payload ------------------------------------------------------------------------------

    def _tag(self, generation_id: int) -> int:
        digest = hmac.new(self.key, generation_id.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[: TAG_BITS // 8], "big")

    def payload_bits(self, generation_id: int) -> np.ndarray:
        """The 64 information bits (±1): the id, then its keyed tag."""
        if not 0 <= generation_id < 2 ** ID_BITS:
            raise ValueError(f"generation id must fit in {ID_BITS} bits")
        word = (generation_id << TAG_BITS) | self._tag(generation_id)
        return np.array([(word >> (INFO_BITS - 1 - i)) & 1 for i in range(INFO_BITS)], np.float64) * 2 - 1

    def _read_ids(self, bits: np.ndarray) -> list[int | None]:
        """±1 bits (candidates, 64) → each candidate's generation id if its keyed tag matches, else None."""
        powers = 2 ** np.arange(ID_BITS - 1, -1, -1, dtype=np.int64)
        ids = (bits[:, :ID_BITS] > 0) @ powers
        tags = (bits[:, ID_BITS:] > 0) @ powers
        return [int(i) if int(t) == self._tag(int(i)) else None for i, t in zip(ids, tags)]

    # --- embedding ----------------------------------------------------------------------------

    def embed(self, samples: np.ndarray, sample_rate: int, generation_id: int,
              strength_db: float | None = None, first_slot: int = 0) -> np.ndarray:
        """The marked signal, same rate and length (the mark is computed at 16 kHz, added as a residual).

        `first_slot`: the block place of the first sample, for a piece that continues a stream marked
        on one grid (pieces cut at whole slots, SLOT_SECONDS, counted from the stream's start).
        Closed loop: each pass re-analyses the marked signal exactly as the detector will and corrects
        every coded bit's projection in every block towards ±α, so window leakage cannot eat the mark.
        """
        # Windows of SLOTS slots from the piece's start hold every place once, like grid blocks.
        pattern = np.roll(self._pattern, -(first_slot % SLOTS), axis=1)
        alpha = self.strength_db if strength_db is None else strength_db
        coded = fec.encode(self.payload_bits(generation_id)).astype(np.float64)
        x = (resample(samples.astype(np.float32), sample_rate, RATE) if sample_rate != RATE
             else samples.astype(np.float32)).astype(np.float64)
        y = x.copy()
        for _ in range(PASSES):
            spec = stft(y)
            slots = len(spec) // SLOT_HOPS
            if slots == 0:
                break
            levels = _cell_levels(spec)
            centred, weight = _reliable(levels)
            values, weights = _blocks(centred * weight), _blocks(weight)
            projection = (np.einsum("ksg,bsg->kb", values, pattern)
                          / np.maximum(np.einsum("ksg,bsg->kb", weights, np.abs(pattern)), 1e-6))
            # Informed embedding: a bit whose projection already lies beyond ±α is left alone.
            shortfall = np.maximum(alpha - coded * projection, 0.0)
            correction = np.clip(shortfall * coded, -MAX_STEP_DB, MAX_STEP_DB)
            delta = np.einsum("kb,bsg->ksg", correction, pattern).reshape(-1, _GROUPS)[:slots]
            delta *= weight  # the mark goes where the detector will look for it
            gains = 10 ** (np.repeat(np.repeat(delta, SLOT_HOPS, axis=0), GROUP, axis=1) / 20)
            band = spec[: slots * SLOT_HOPS, _BINS]
            change = np.zeros_like(spec)
            change[: slots * SLOT_HOPS, _BINS] = band * (gains - 1)
            y = y + istft(change, len(y))  # the ISTFT is linear: only the change is resynthesised
        residual = (y - x).astype(np.float32)
        if sample_rate != RATE:
            residual = resample(residual, RATE, sample_rate)[: len(samples)]
            residual = np.pad(residual, (0, len(samples) - len(residual)))
        return (samples + residual).astype(np.float32)

    # --- detection ----------------------------------------------------------------------------

    def detect(self, samples: np.ndarray, sample_rate: int, search_speed: bool = True) -> Detection:
        x = resample(samples.astype(np.float32), sample_rate, RATE) if sample_rate != RATE else samples.astype(np.float32)
        best = self._search(x, 1.0)
        if best.watermarked or not search_speed:
            return best
        for speed in SPEED_SEARCH[1:]:
            # A clip played `speed` times faster holds 1/speed as many samples: stretch it back.
            candidate = self._search(resample(x, RATE, int(round(RATE * speed))), speed)
            if candidate.watermarked:
                return candidate
        return best

    def read_bits(self, samples: np.ndarray, block_start: int) -> np.ndarray | None:
        """The decoded 64 bits (±1) of 16 kHz audio whose blocks start at `block_start` (benchmarks)."""
        soft, _ = self._fold(samples[block_start % SLOT_SAMPLES:])
        row = block_start // SLOT_SAMPLES % SLOTS
        return None if soft is None else fec.decode(soft[row: row + 1], INFO_BITS)[0]

    def _search(self, x: np.ndarray, speed: float) -> Detection:
        """Decode every alignment at once: 64-sample offsets within a slot × block starts within a block."""
        step = SLOT_SAMPLES // SUB_OFFSETS
        softs, projections, offsets = [], [], []
        for sub in range(SUB_OFFSETS):
            soft, projection = self._fold(x[sub * step:])
            if soft is None:
                break
            softs.append(soft)
            projections.append(projection)
            offsets.extend(sub * step + shift * SLOT_SAMPLES for shift in range(SLOTS))
        if not softs:
            return Detection(False, 0.0, None, 0, speed)
        decoded = fec.decode(np.concatenate(softs), INFO_BITS)
        ids = self._read_ids(decoded)
        found = [i for i, generation_id in enumerate(ids) if generation_id is not None]
        if not found:  # the common case for unmarked audio, tried at every speed: no confidence to work out
            return Detection(False, 0.0, None, 0, speed)
        # How intact the mark is: the share of ±α each coded bit holds in the decoded codeword's direction.
        projection = np.concatenate(projections)[found]
        agreement = np.clip(fec.encode(decoded[found]) * projection / self.strength_db, 0.0, 1.0)
        confidence = agreement.sum(axis=1) / np.maximum((projection != 0).sum(axis=1), 1)
        best = int(np.argmax(confidence))
        index = found[best]
        return Detection(True, float(confidence[best]), ids[index], offsets[index], speed)

    def _fold(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Soft values and projections (block start, coded bit) of audio whose first slot starts at 0.

        Every slot adds to its place in the block (slot index mod SLOTS); row s assumes a block starts
        at slot s, which makes each row a circular correlation of the folded clip with the pattern.
        Soft values are weighted sums scaled to log-likelihood ratios for the decoder.
        """
        spec = stft(x)
        if len(spec) // SLOT_HOPS < MIN_SLOTS:
            return None, None
        centred, weight = _reliable(_cell_levels(spec))
        folded = _blocks(np.stack([centred * weight, weight, weight ** 2], axis=-1)).sum(axis=0)
        spectra = np.fft.rfft(folded, axis=0)  # (frequency, group, sum)
        numerator = np.fft.irfft((self._pattern_spectrum @ spectra[..., :1])[..., 0], n=SLOTS, axis=0)
        weights, energy = np.moveaxis(np.fft.irfft(self._cells_spectrum @ spectra[..., 1:], n=SLOTS, axis=0), -1, 0)
        return numerator * weights / np.maximum(energy, 1e-9), numerator / np.maximum(weights, 1e-9)
