"""Keyed payload watermark: improved spread spectrum (ISS) on the log-magnitude STFT, 1.7–3.8 kHz.

Payload: a 32-bit generation id and a 32-bit keyed tag (HMAC-SHA256 of the id), 64 bits, protected
by a rate-½ convolutional code (140 coded bits, `fec`). A block of 42 slots × 64 ms (2.69 s) carries
every coded bit once and repeats over the whole clip on one grid of slots, so any 3 s piece covers
every place of a block. Each coded bit owns a keyed pseudo-random set of (slot place, group) cells
with ±1 chips (`cells` has the grid, the features and the weights; `embedding` the closed loop that
writes the mark, checked against white noise as well as in clean audio).

Detection folds every slot of the clip onto its place in the block (partial blocks count too), for
every candidate alignment at once (a circular correlation over the block, by FFT), decodes all
candidates with a soft Viterbi decoder and accepts one whose 32-bit keyed tag matches. If no
alignment matches, speed changes of ±1…6% (1% grid) are tried by resampling. Without the key nobody
can find the cells, so nobody can read or forge a mark; with 16 × 42 × 13 ≈ 8,700 candidates per
clip, a false detection has odds of about 1 in 490,000.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from kit.audio.codec import resample
from kit.watermark import embedding, fec
from kit.watermark.cells import (
    GROUPS,
    SLOT_HOPS,
    SLOT_SAMPLES,
    SLOTS,
    band_power,
    blocks,
    cell_levels,
    reliable,
)
from kit.watermark.spectrum import RATE, stft

ID_BITS, TAG_BITS = 32, 32
INFO_BITS = ID_BITS + TAG_BITS
CODED_BITS = fec.coded_length(INFO_BITS)
MIN_SLOTS = SLOTS  # a clip shorter than one block is not searched
SUB_OFFSETS = 16  # alignment search step = slot / 16 = 64 samples
SPEED_SEARCH = (1.0, 0.99, 1.01, 0.98, 1.02, 0.97, 1.03, 0.96, 1.04, 0.95, 1.05, 0.94, 1.06)


@dataclass(frozen=True)
class Detection:
    watermarked: bool
    confidence: float  # share of ±α the coded bits still hold (1.0: intact); 0.0 when no mark is found
    generation_id: int | None
    offset_samples: int = 0
    speed: float = 1.0


class Watermarker:
    def __init__(self, key: bytes, strength_db: float = 1.5) -> None:
        if len(key) < 16:
            raise ValueError("the watermark key must have at least 16 bytes")
        self.key = key
        self.strength_db = strength_db
        seed = int.from_bytes(hashlib.blake2b(key, digest_size=8, person=b"timbre-wm").digest(), "little")
        rng = np.random.default_rng(seed)
        cells = SLOTS * GROUPS
        # Each cell belongs to one coded bit (a keyed permutation, balanced) and carries a ±1 chip.
        owner = (rng.permutation(cells) % CODED_BITS).reshape(SLOTS, GROUPS)
        chips = rng.choice(np.array([-1.0, 1.0]), size=(SLOTS, GROUPS))
        onehot = np.zeros((CODED_BITS, SLOTS, GROUPS))
        onehot[owner, np.arange(SLOTS)[:, None], np.arange(GROUPS)[None, :]] = 1.0
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
        if not 0 <= generation_id < 2**ID_BITS:
            raise ValueError(f"generation id must fit in {ID_BITS} bits")
        word = (generation_id << TAG_BITS) | self._tag(generation_id)
        return np.array([(word >> (INFO_BITS - 1 - i)) & 1 for i in range(INFO_BITS)], np.float64) * 2 - 1

    def _read_ids(self, bits: np.ndarray) -> list[int | None]:
        """±1 bits (candidates, 64) → each candidate's generation id if its keyed tag matches, else None."""
        powers = 2 ** np.arange(ID_BITS - 1, -1, -1, dtype=np.int64)
        ids = (bits[:, :ID_BITS] > 0) @ powers
        tags = (bits[:, ID_BITS:] > 0) @ powers
        return [int(i) if int(t) == self._tag(int(i)) else None for i, t in zip(ids, tags, strict=True)]

    # --- embedding ----------------------------------------------------------------------------

    def embed(
        self,
        samples: np.ndarray,
        sample_rate: int,
        generation_id: int,
        strength_db: float | None = None,
        first_slot: int = 0,
    ) -> np.ndarray:
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
        x = (
            resample(samples.astype(np.float32), sample_rate, RATE)
            if sample_rate != RATE
            else samples.astype(np.float32)
        ).astype(np.float64)
        residual = embedding.residual(x, pattern, coded, alpha).astype(np.float32)
        if sample_rate != RATE:
            residual = resample(residual, RATE, sample_rate)[: len(samples)]
            residual = np.pad(residual, (0, len(samples) - len(residual)))
        return (samples + residual).astype(np.float32)

    # --- detection ----------------------------------------------------------------------------

    def detect(self, samples: np.ndarray, sample_rate: int, search_speed: bool = True) -> Detection:
        x = (
            resample(samples.astype(np.float32), sample_rate, RATE)
            if sample_rate != RATE
            else samples.astype(np.float32)
        )
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
        soft, _ = self._fold(samples[block_start % SLOT_SAMPLES :])
        row = block_start // SLOT_SAMPLES % SLOTS
        return None if soft is None else fec.decode(soft[row : row + 1], INFO_BITS)[0]

    def _search(self, x: np.ndarray, speed: float) -> Detection:
        """Decode every alignment at once: 64-sample offsets within a slot × block starts within a block."""
        step = SLOT_SAMPLES // SUB_OFFSETS
        softs: list[np.ndarray] = []
        projections: list[np.ndarray] = []
        offsets: list[int] = []
        for sub in range(SUB_OFFSETS):
            soft, projection = self._fold(x[sub * step :])
            if soft is None or projection is None:
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
        centred, weight = reliable(cell_levels(band_power(spec)))
        sums = np.stack([centred * weight, weight, weight**2])
        folded = np.moveaxis(blocks(sums).sum(axis=1), 0, -1)  # (SLOTS, groups, sum)
        spectra = np.fft.rfft(folded, axis=0)  # (frequency, group, sum)
        numerator = np.fft.irfft((self._pattern_spectrum @ spectra[..., :1])[..., 0], n=SLOTS, axis=0)
        weights, energy = np.moveaxis(np.fft.irfft(self._cells_spectrum @ spectra[..., 1:], n=SLOTS, axis=0), -1, 0)
        return numerator * weights / np.maximum(energy, 1e-9), numerator / np.maximum(weights, 1e-9)
