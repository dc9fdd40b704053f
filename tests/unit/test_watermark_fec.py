"""The payload's convolutional code: exact round trip, corrected errors and erasures, batch decoding."""

from __future__ import annotations

import numpy as np

from kit.watermark import fec


def _words(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(count, 64))


def test_round_trip_and_length():
    words = _words(5)
    coded = fec.encode(words)
    assert coded.shape == (5, fec.coded_length(64)) == (5, 140)
    assert np.array_equal(fec.decode(coded, 64), words)


def test_corrects_scattered_errors_that_a_sign_reading_would_not():
    words = _words(20, seed=1)
    coded = fec.encode(words)
    flipped = coded.copy()
    flipped[:, ::15] *= -1  # 10 of 140 coded bits wrong, spread out
    assert np.array_equal(fec.decode(flipped, 64), words)


def test_erasures_and_noise():
    rng = np.random.default_rng(2)
    words = _words(50, seed=2)
    coded = fec.encode(words)
    soft = coded + rng.normal(0, 0.5, coded.shape)  # ~2% of signs wrong
    heard = np.ones(140, bool)
    heard[rng.permutation(140)[:30]] = False  # and 30 coded bits never heard (a partly covered block)
    soft[:, ~heard] = 0.0
    assert (np.sign(soft[:, heard]) != coded[:, heard]).any(axis=1).mean() > 0.5  # most words need correcting
    decoded = fec.decode(soft, 64)
    assert np.mean(np.all(decoded == words, axis=1)) >= 0.95


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(3)
    soft = fec.encode(_words(6, seed=3)) + rng.normal(0, 1.0, (6, 140))
    together = fec.decode(soft, 64)
    assert all(np.array_equal(together[i], fec.decode(soft[i : i + 1], 64)[0]) for i in range(6))


def test_the_compiled_decoder_agrees_with_the_array_one_and_scores_agreement():
    rng = np.random.default_rng(7)
    bits = rng.choice(np.array([-1.0, 1.0]), size=(50, 64))
    codewords = fec.encode(bits)
    noisy = codewords + rng.normal(0, 0.8, codewords.shape)
    plain = fec.decode(noisy, 64)
    compiled, scores = fec.decode_scored(noisy, 64)
    assert np.array_equal(plain, compiled)
    assert np.allclose(scores, (fec.encode(compiled) * noisy).sum(axis=1), rtol=1e-4)
    # An intact codeword agrees fully; noise of the same size does not.
    _, intact = fec.decode_scored(codewords, 64)
    assert np.allclose(intact, np.abs(codewords).sum(axis=1))
    pure_noise = rng.normal(0, 1, codewords.shape)
    _, noise_scores = fec.decode_scored(pure_noise, 64)
    assert (noise_scores / np.abs(pure_noise).sum(axis=1)).max() < 0.95
