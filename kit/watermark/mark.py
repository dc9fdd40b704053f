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
alignment matches, the clip is read again at a grid of tempos and pitches, each axis on its own
(`scales`): a pitch-preserving tempo change, a tempo-preserving pitch shift, both, or a resampling.
Without the key nobody can find the cells, so nobody can read or forge a mark.

False positives are bounded by how many tags are read, not by how wide the search is: 16 × 42 = 672
on the clip as it is, and at most TAG_BUDGET in the scale search, only for candidates that first pass
a presence test (their soft values agree with their decoded codeword). 928 tags of 32 bits: odds of
at most 2.2 × 10⁻⁷ per clip.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

import numpy as np

from kit.audio.codec import resample
from kit.watermark import embedding, fec, scales
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
PRESELECT = 8  # block starts decoded per (tempo, pitch, offset) in the scale search: the most mark-like
PRESENCE = 0.86  # agreement of a candidate's soft values with its decoded codeword before its tag is read
TAG_BUDGET = 256  # tags the scale search reads per clip at most: this, not the grid, bounds its false positives


@dataclass(frozen=True)
class Detection:
    watermarked: bool
    confidence: float  # share of ±α the coded bits still hold (1.0: intact); 0.0 when no mark is found
    generation_id: int | None
    offset_samples: int = 0
    tempo: float = 1.0  # how much faster the clip plays than the marked original (time axis)
    pitch: float = 1.0  # how much higher its frequencies are (frequency axis); resampling moves both

    @property
    def pitch_semitones(self) -> float:
        return 12 * math.log2(self.pitch)


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
        # Single precision for the scale search, which correlates thousands of candidates per clip.
        self._pattern_spectrum32 = self._pattern_spectrum.astype(np.complex64)

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

    def prepare(self) -> None:
        """Load the scale search's compiled decoder now (a few seconds, once per process), not in the
        first request that needs it."""
        fec.decode_scored(np.zeros((1, CODED_BITS), np.float32), INFO_BITS)

    def detect(self, samples: np.ndarray, sample_rate: int, search_scales: bool = True) -> Detection:
        """Find the mark: first on the clip as it is (every alignment), then, unless `search_scales` is
        off, at every (tempo, pitch) of the scale grid (`scales`)."""
        x = (
            resample(samples.astype(np.float32), sample_rate, RATE)
            if sample_rate != RATE
            else samples.astype(np.float32)
        )
        best = self._search(x)
        if best.watermarked or not search_scales:
            return best
        found = self._scale_search(x)
        return found if found is not None else best

    def read_bits(self, samples: np.ndarray, block_start: int) -> np.ndarray | None:
        """The decoded 64 bits (±1) of 16 kHz audio whose blocks start at `block_start` (benchmarks)."""
        soft, _ = self._fold(samples[block_start % SLOT_SAMPLES :])
        row = block_start // SLOT_SAMPLES % SLOTS
        return None if soft is None else fec.decode(soft[row : row + 1], INFO_BITS)[0]

    def _search(self, x: np.ndarray) -> Detection:
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
            return Detection(False, 0.0, None)
        decoded = fec.decode(np.concatenate(softs), INFO_BITS)
        ids = self._read_ids(decoded)
        found = [i for i, generation_id in enumerate(ids) if generation_id is not None]
        if not found:  # the common case for unmarked audio: no confidence to work out
            return Detection(False, 0.0, None)
        # How intact the mark is: the share of ±α each coded bit holds in the decoded codeword's direction.
        confidence = self._confidence(decoded[found], np.concatenate(projections)[found])
        best = int(np.argmax(confidence))
        index = found[best]
        return Detection(True, float(confidence[best]), ids[index], offsets[index])

    def _confidence(self, decoded: np.ndarray, projection: np.ndarray) -> np.ndarray:
        """How intact each mark is: the share of ±α each coded bit holds in the decoded codeword's direction."""
        agreement = np.clip(fec.encode(decoded) * projection / self.strength_db, 0.0, 1.0)
        return agreement.sum(axis=-1) / np.maximum((projection != 0).sum(axis=-1), 1)

    def _scale_search(self, x: np.ndarray) -> Detection | None:
        """The mark after a tempo change, a pitch shift or both (`scales.PLAN` lists the readings).

        Candidates per (tempo, pitch, offset): the PRESELECT block starts whose projections look most
        like a mark (every bit near ±α, none near 0: their mean magnitude is large next to their power)
        are decoded; a decoded candidate counts as present when its soft values agree with its
        codeword (≥ PRESENCE of their weight; unmarked audio stays below ~0.9, an intact mark near
        1.0), and only then is its tag read, most present first, TAG_BUDGET tags per clip at most.
        Nearest scales first, so a light edit is found early.
        """
        budget = TAG_BUDGET
        for window in scales.windows(x, RATE):
            for row in scales.PLAN:
                candidates = window.at(row)
                if candidates is None:
                    continue
                # Unnormalised soft values: the preselection and the decoder are blind to scale.
                soft = self._numerators(candidates.levels).reshape(-1, CODED_BITS)
                looks = (np.abs(soft).mean(axis=1) ** 2 / np.maximum((soft**2).mean(axis=1), 1e-30)).reshape(-1, SLOTS)
                rows = np.argpartition(-looks, PRESELECT, axis=1)[:, :PRESELECT]
                chosen = (rows + SLOTS * np.arange(len(rows))[:, None]).reshape(-1)
                picked = soft[chosen]
                decoded, score = fec.decode_scored(picked, INFO_BITS)
                agreement = score / np.maximum(np.abs(picked).sum(axis=1), 1e-30)
                for index in np.argsort(-agreement)[: min(budget, int((agreement >= PRESENCE).sum()))]:
                    budget -= 1
                    (generation_id,) = self._read_ids(decoded[index : index + 1])
                    if generation_id is not None:
                        return self._scaled_detection(candidates, int(chosen[index]), decoded[index], generation_id)
                if budget <= 0:
                    return None
        return None

    def _scaled_detection(
        self, candidates: scales.Candidates, row: int, decoded: np.ndarray, generation_id: int
    ) -> Detection:
        pitch_index, rest = divmod(row, len(scales.OFFSETS) * SLOTS)
        offset_index, block_start = divmod(rest, SLOTS)
        tempo = candidates.row.tempo
        offset = candidates.start + scales.OFFSETS[offset_index] + round(block_start * SLOT_SAMPLES / tempo)
        _, projection = self._correlate(candidates.levels[pitch_index, offset_index].astype(np.float64))
        confidence = float(self._confidence(decoded[None], projection[block_start][None])[0])
        return Detection(True, confidence, generation_id, offset, tempo, float(candidates.row.pitches[pitch_index]))

    def _fold(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Soft values and projections (block start, coded bit) of audio whose first slot starts at 0."""
        spec = stft(x)
        if len(spec) // SLOT_HOPS < MIN_SLOTS:
            return None, None
        return self._correlate(cell_levels(band_power(spec)))

    def _numerators(self, levels: np.ndarray) -> np.ndarray:
        """Cell levels (…, slots, groups), single precision → each (block start, coded bit)'s weighted
        sum, without the per-bit normalisation `_correlate` adds (a third of the work)."""
        centred, weight = reliable(levels)
        folded = blocks((centred * weight).reshape(-1, *levels.shape[-2:])).sum(axis=-3)  # (batch, SLOTS, groups)
        products = self._pattern_spectrum32 @ np.fft.rfft(folded, axis=-2).transpose(1, 2, 0)  # (frequency, bit, batch)
        numerator = np.fft.irfft(products, n=SLOTS, axis=0).transpose(2, 0, 1)
        return numerator.reshape(*levels.shape[:-2], SLOTS, CODED_BITS)

    def _correlate(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell levels (…, slots, groups) → soft values and projections (…, block start, coded bit).

        Every slot adds to its place in the block (slot index mod SLOTS); row s assumes a block starts
        at slot s, which makes each row a circular correlation of the folded clip with the pattern.
        Soft values are weighted sums scaled to log-likelihood ratios for the decoder.
        """
        centred, weight = reliable(levels)
        lead = levels.shape[:-2]
        sums = np.stack([centred * weight, weight, weight**2]).reshape(3, -1, *levels.shape[-2:])
        spectra = np.fft.rfft(blocks(sums).sum(axis=-3), axis=-2)  # (sum, batch, frequency, group)
        # One matrix product per frequency, the whole batch as its columns.
        columns = spectra.transpose(2, 3, 0, 1)  # (frequency, group, sum, batch)
        products = self._pattern_spectrum @ columns[:, :, 0]  # (frequency, bit, batch)
        cells = self._cells_spectrum @ columns[:, :, 1:].reshape(*columns.shape[:2], -1)
        numerator = np.fft.irfft(products, n=SLOTS, axis=0).transpose(2, 0, 1).reshape(*lead, SLOTS, -1)
        both = np.fft.irfft(cells, n=SLOTS, axis=0).reshape(SLOTS, CODED_BITS, 2, -1).transpose(2, 3, 0, 1)
        weights, energy = (part.reshape(*lead, SLOTS, CODED_BITS) for part in both)
        return numerator * weights / np.maximum(energy, 1e-9), numerator / np.maximum(weights, 1e-9)
