"""The decode fuzz, run in a child process so that its peak memory is its own (and a crash kills only it).

`python -m tests.fuzz.audio.fuzz_worker COUNT LAST_INPUT_PATH` runs COUNT Hypothesis-generated hostile
files through kit.audio.codec.decode, with the enrollment's limits or the watermark service's, and
prints one JSON line of figures. Every file must decode to a valid Clip or be refused with an
AudioDecodeError naming a reason; anything else fails (Hypothesis then shrinks it and prints it). Each
input is written to LAST_INPUT_PATH before it is decoded, so that a crash leaves the file that caused it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.audio.codec import MAX_CHANNELS, MAX_RATE, MIN_RATE, AudioDecodeError, decode
from tests.fuzz.audio.corpus import seeds

REASONS = {"AUDIO_UNDECODABLE", "AUDIO_TOO_LARGE", "SAMPLE_RATE_TOO_LOW"}
# (target rate, max seconds, max bytes): the enrollment's decode, and the watermark service's.
LIMITS = {"enrollment": (16000, 600.0, 50 * 1024 * 1024), "watermark": (None, 1800.0, 50 * 1024 * 1024)}
# Integers header fields are lied with: zero, one, sign and size boundaries, huge.
LIES = [0, 1, 2, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 192000, 384000, 8, 9, 255]
MAX_FILE = 256 * 1024
FILES_PER_EXAMPLE = 10
BATCHES_PER_RUN = 250


OPS = ("truncate", "flip", "lie", "insert", "delete", "repeat", "splice")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed of every accepted format, hurt 1-4 times: truncated, bit-flipped, header fields lied in,
    bytes inserted, deleted or repeated, or another seed's head spliced on; or plain random bytes.

    Hypothesis draws the plan (seed, operations, where, how much: what it shrinks on a failure); the
    filler bytes come from its seeded Random, which keeps a draw cheap enough for 10,000 files."""
    corpus = seeds()
    name = draw(st.sampled_from([*corpus, "random"]))
    rng = draw(st.randoms(use_true_random=True))
    if name == "random":
        return rng.randbytes(draw(st.integers(0, 4096)))
    plan = draw(
        st.lists(
            st.tuples(st.sampled_from(OPS), st.integers(0, 2**16), st.integers(0, 2**32 - 1)), min_size=1, max_size=4
        )
    )
    data = bytearray(corpus[name])
    for op, where, amount in plan:
        if not data:
            break
        size = len(data)
        # Half of the damage lands in the first 128 bytes, where the headers are.
        at = where % min(128, size) if where % 2 else where * size // 2**16 % size
        if op == "truncate":
            del data[at if where % 2 else amount % size :]
        elif op == "flip":
            for _ in range(1 + amount % 16):
                bit = rng.randrange(size * 8) if rng.random() < 0.5 else at * 8 + rng.randrange(8)
                data[bit // 8] ^= 1 << (bit % 8)
        elif op == "lie":
            value = LIES[amount % len(LIES)] if amount % 3 else amount
            width = 2 if amount & 4 else 4
            order = "big" if amount & 8 else "little"
            data[at : at + width] = (value % (1 << (8 * width))).to_bytes(width, order)
        elif op == "insert":
            data[at:at] = rng.randbytes(1 + amount % 512)
        elif op == "delete":
            del data[at : at + 1 + amount % 512]
        elif op == "repeat":
            piece = bytes(data[at : at + 1 + amount % 4096])
            data[at:at] = piece * (1 + rng.randrange(max(1, (MAX_FILE - size) // len(piece))))
        else:
            other = corpus[sorted(corpus)[amount % len(corpus)]]
            data[:at] = other[: amount % 256]
    return bytes(data[:MAX_FILE])


def peak_rss_kib() -> int:
    """This process's own peak RSS since its exec (VmHWM). Not getrusage's ru_maxrss: Linux keeps that
    across fork and exec, so a child of a pytest process grown to gigabytes would start at its size."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def run(count: int, last_input: str) -> dict:
    """Hypothesis runs of BATCHES_PER_RUN examples of FILES_PER_EXAMPLE files each, until `count` files:
    the engine's own cost is per example and its memory grows with the examples of a run (~50 MiB per
    thousand), so batching files keeps both small next to the decoding measured."""
    started = time.monotonic()
    keep = os.open(last_input, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    outcomes: Counter[str] = Counter()
    largest_output = largest_rise = 0

    def check(data: bytes, path: str) -> None:
        nonlocal largest_output, largest_rise
        os.pwrite(keep, data, 0)  # one open file, rewritten: a crash leaves exactly this input
        os.ftruncate(keep, len(data))
        target, max_seconds, max_bytes = LIMITS[path]
        peak_before = peak_rss_kib()
        try:
            clip = decode(data, target, max_seconds, max_bytes)
        except AudioDecodeError as exc:
            assert exc.reason in REASONS, exc.reason
            assert str(exc), "a refusal must say why"
            outcomes[exc.reason] += 1
            return
        finally:  # how far this one decode pushed the process's peak up (0 when it stayed below it)
            largest_rise = max(largest_rise, peak_rss_kib() - peak_before)
        assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1 and len(clip.samples) > 0
        assert np.isfinite(clip.samples).all()
        assert MIN_RATE <= clip.native_rate <= MAX_RATE and 1 <= clip.channels <= MAX_CHANNELS
        assert clip.sample_rate == (target or clip.native_rate)
        assert clip.seconds <= max_seconds + 1
        largest_output = max(largest_output, clip.samples.nbytes)
        outcomes["decoded"] += 1

    @settings(max_examples=BATCHES_PER_RUN, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        files=st.lists(
            st.tuples(mutated(), st.sampled_from(sorted(LIMITS))),
            min_size=FILES_PER_EXAMPLE,
            max_size=FILES_PER_EXAMPLE,
        )
    )
    def each_decodes_or_is_refused(files: list[tuple[bytes, str]]) -> None:
        for data, path in files:
            check(data, path)

    while sum(outcomes.values()) < count:
        each_decodes_or_is_refused()
    os.close(keep)
    return {
        "files": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "largest_output_bytes": largest_output,
        "largest_decode_rise_kib": largest_rise,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    count, last_input = int(sys.argv[1]), sys.argv[2]
    seeds()  # build the seeds (and import everything) before the baseline is taken
    baseline_kib = peak_rss_kib()
    figures = run(count, last_input)
    print(json.dumps({**figures, "baseline_rss_kib": baseline_kib, "peak_rss_kib": peak_rss_kib()}), flush=True)


if __name__ == "__main__":
    main()
