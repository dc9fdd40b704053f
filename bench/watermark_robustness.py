"""Watermark robustness, false positives, quality and speed.

Clips: speech by the Piper joe voice and 19 espeak-ng voices, passages in turn, first 5 s, 16 kHz;
and the real speakers of the dev voices (`--dev-voices`, 5 s pieces of each recording), in a table
of their own. Per attack: detection rate (the right generation id found) and bit accuracy (the 64
decoded payload bits at the known alignment; a codec's delay found by cross-correlation; none for
tempo and pitch edits, whose alignment is not known sample for sample). Tempo and pitch edits run
through FFmpeg's filters (`bench.audio_edits`), each also followed by an MP3 64 kbps re-encode.
False positives: unmarked 3 s segments of both kinds of speech, with the full search on (the clip
as it is and the whole tempo × pitch grid, as the service searches), unless --fp-plain.
Streamed: each clip also marked as a stream may send it (pieces of 2, 4, 8, 16, then 23 slots from
their places in the block), read whole, in its first 3 s, in a random 3 s crop and after MP3 64 kbps.
Quality: SNR and wide-band PESQ of marked vs clean. Speed: embed and detect × real time, 1 thread:
detection of marked clips as they are, of the edited ones, and of unmarked ones (the whole grid searched).

Usage: python -m bench.watermark_robustness [--clips 200] [--fp-segments 10000] [--workers 2] [--strength 1.5]
       [--dev-voices ../shared/design/dev-voices] [--fp-plain]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads its BLAS: one thread per worker

import argparse
import functools
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from bench.audio_edits import pitch, tempo
from bench.common import machine_facts
from kit.audio.codec import decode, encode, resample

RATE = 16000
CLIP_SECONDS = 5
KEY = bytes(range(32))
DEV_VOICES = Path(__file__).resolve().parents[1].parent / "shared" / "design" / "dev-voices"
VOICES = [
    "joe",
    "en-us+m1",
    "en-us+m3",
    "en-us+m7",
    "en-us+f1",
    "en-us+f2",
    "en-us+f4",
    "en-us+klatt",
    "en-us+croak",
    "en-us+Alex",
    "en-us+linda",
    "en-us+max",
    "en-us+steph",
    "en-us+john",
    "en-us+anika",
    "en-us+edward",
    "en-us+grandma",
    "en-us+victor",
    "en-us+shelby",
    "en-us+travis",
]


def _lowpass(a, hz, order=8):
    return sosfilt(butter(order, hz, "low", fs=RATE, output="sos"), a).astype(np.float32)


def _highpass(a, hz, order=8):
    return sosfilt(butter(order, hz, "high", fs=RATE, output="sos"), a).astype(np.float32)


def _codec(a, fmt, bitrate):
    out = decode(encode(a, RATE, fmt, bitrate), RATE).samples
    return np.pad(out, (0, max(0, len(a) - len(out))))[: len(a)]


def _noise(a, snr_db, rng):
    power = float(np.mean(a**2))
    return (a + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(a))).astype(np.float32)


def attacks(other: np.ndarray, rng: np.random.Generator):
    """name → (function, alignment for bit accuracy: (offset samples, speed))."""

    def mix(a):
        o = np.resize(other, len(a))
        return (a + o * np.sqrt(np.mean(a**2) / max(np.mean(o**2), 1e-12)) * 10 ** (-10 / 20)).astype(np.float32)

    crop_at = int(rng.integers(0, RATE * 2 - 1))
    return {
        "none": (lambda a: a, (0, 1.0)),
        "mp3 128 kbps": (lambda a: _codec(a, "mp3", 128000), (0, 1.0)),
        "mp3 64 kbps": (lambda a: _codec(a, "mp3", 64000), (0, 1.0)),
        "mp3 32 kbps": (lambda a: _codec(a, "mp3", 32000), (0, 1.0)),
        "aac 64 kbps": (lambda a: _codec(a, "m4a", 64000), (0, 1.0)),
        "opus 24 kbps": (lambda a: _codec(a, "ogg", 24000), (0, 1.0)),
        "resample 16k→8k→16k": (lambda a: resample(resample(a, RATE, 8000), 8000, RATE), (0, 1.0)),
        "resample 16k→48k→16k": (lambda a: resample(resample(a, RATE, 48000), 48000, RATE), (0, 1.0)),
        "white noise 20 dB": (lambda a: _noise(a, 20, rng), (0, 1.0)),
        "gain +6 dB": (lambda a: np.clip(a * 2.0, -1, 1), (0, 1.0)),
        "gain -6 dB": (lambda a: a * 0.5, (0, 1.0)),
        "low-pass 4 kHz": (lambda a: _lowpass(a, 3900), (0, 1.0)),
        "high-pass 1.5 kHz": (lambda a: _highpass(a, 1500), (0, 1.0)),
        "random 3 s crop": (lambda a: a[crop_at : crop_at + 3 * RATE], (crop_at, 1.0)),
        "speed 1.05×": (lambda a: resample(a, RATE, int(RATE / 1.05)), (0, 1.05)),
        "speed 0.95×": (lambda a: resample(a, RATE, int(RATE / 0.95)), (0, 0.95)),
        "mix other speech −10 dB": (mix, (0, 1.0)),
        **edits(),
    }


def edits():
    """Tempo and pitch edits as FFmpeg makes them, each also followed by an MP3 64 kbps re-encode."""
    plain = {
        **{f"tempo {f}× (atempo)": (lambda a, f=f: tempo(a, RATE, f)) for f in (0.8, 0.9, 1.1, 1.25, 1.5)},
        **{f"pitch {s:+d} st (asetrate)": (lambda a, s=s: pitch(a, RATE, s)) for s in (-2, -1, 1, 2)},
        "tempo 1.1× + pitch +1 st": lambda a: pitch(a, RATE, 1, 1.1),
    }
    with_mp3 = {
        f"{name} → mp3 64k": (lambda a, edit=edit: _codec(edit(a), "mp3", 64000)) for name, edit in plain.items()
    }
    return {name: (edit, None) for name, edit in {**plain, **with_mp3}.items()}


def _is_edit(alignment) -> bool:
    return alignment is None


def _clip(index: int) -> np.ndarray:
    from cli import samples

    voice = VOICES[index % len(VOICES)]
    audio = samples.speak(voice, samples.PASSAGES[index // len(VOICES) % len(samples.PASSAGES)])
    return audio[: CLIP_SECONDS * RATE]


@functools.cache
def dev_pieces(folder: Path) -> list[tuple[str, np.ndarray]]:
    """Every dev voice in 5 s pieces at 16 kHz (a last piece shorter than 4 s is left out); each worker
    reads them once."""
    import soundfile

    pieces = []
    for path in sorted(folder.glob("*.flac")):
        samples, rate = soundfile.read(path, dtype="float32")
        audio = resample(samples if samples.ndim == 1 else samples.mean(axis=1), rate, RATE)
        for start in range(0, len(audio) - 4 * RATE + 1, CLIP_SECONDS * RATE):
            pieces.append((path.stem, audio[start : start + CLIP_SECONDS * RATE]))
    return pieces


def _source(index: int, dev: Path) -> tuple[str, np.ndarray]:
    """Clip `index`: synthetic for index ≥ 0, else the dev voices' piece −index−1."""
    if index < 0:
        return dev_pieces(dev)[-index - 1]
    return VOICES[index % len(VOICES)], _clip(index)


def _delay(attacked: np.ndarray, marked: np.ndarray, span: int = 4096) -> int:
    """Samples by which `attacked` lags `marked` (codecs add a few hundred), by cross-correlation."""
    n = min(len(attacked), len(marked), 2 * RATE)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    correlation = np.fft.irfft(np.fft.rfft(attacked[:n], size) * np.conj(np.fft.rfft(marked[:n], size)), size)
    lags = np.concatenate([np.arange(0, span), np.arange(-span, 0)])
    return int(lags[np.argmax(np.concatenate([correlation[:span], correlation[-span:]]))])


def _bit_accuracy(marker, attacked, marked, generation_id, alignment):
    """Share of the 64 decoded bits right where the blocks truly start (the grid starts at the marked clip's 0)."""
    from kit.watermark import BLOCK_SECONDS

    if _is_edit(alignment):
        return float("nan")
    offset, speed = alignment
    x = resample(attacked, RATE, int(round(RATE * speed))) if speed != 1.0 else attacked
    delay = _delay(x, marked) if offset == 0 and speed == 1.0 else 0
    bits = marker.read_bits(x, (delay - offset) % round(BLOCK_SECONDS * RATE))
    return float("nan") if bits is None else float(np.mean(bits == marker.payload_bits(generation_id)))


def _robustness_job(args):
    index, strength, dev = args
    import torch

    torch.set_num_threads(1)
    from pesq import pesq

    from kit.watermark import Watermarker

    marker = Watermarker(KEY, strength)
    marker.prepare()
    rng = np.random.default_rng([abs(index), index < 0])
    voice, clean = _source(index, dev)
    generation_id = int(rng.integers(1, 2**32 - 1))
    started = time.perf_counter()
    marked = marker.embed(clean, RATE, generation_id)
    embed_seconds = time.perf_counter() - started
    baseline_seconds = _baseline(clean)
    snr = 10 * np.log10(np.sum(clean**2) / max(np.sum((marked - clean) ** 2), 1e-12))
    quality = pesq(RATE, clean, marked, "wb")
    other = _clip(abs(index) + 7)
    rows = {}
    detect_seconds = 0.0
    edited = [0.0, 0.0]  # detection seconds, audio seconds over the tempo and pitch edits
    for name, (attack, alignment) in attacks(other, rng).items():
        attacked = attack(marked)
        started = time.perf_counter()
        found = marker.detect(attacked, RATE)
        elapsed = time.perf_counter() - started
        if name == "none":
            detect_seconds = elapsed
        if _is_edit(alignment):
            edited[0] += elapsed
            edited[1] += len(attacked) / RATE
        rows[name] = (
            found.watermarked and found.generation_id == generation_id,
            _bit_accuracy(marker, attacked, marked, generation_id, alignment),
        )
    streamed = _streamed(marker, clean, generation_id)
    crop_at = int(rng.integers(0, RATE * 2 - 1))
    for name, (attacked, alignment) in {
        "streamed pieces": (streamed, (0, 1.0)),
        "streamed, first 3 s": (streamed[: 3 * RATE], (0, 1.0)),
        "streamed, random 3 s crop": (streamed[crop_at : crop_at + 3 * RATE], (crop_at, 1.0)),
        "streamed → mp3 64 kbps": (_codec(streamed, "mp3", 64000), (0, 1.0)),
    }.items():
        found = marker.detect(attacked, RATE)
        rows[name] = (
            found.watermarked and found.generation_id == generation_id,
            _bit_accuracy(marker, attacked, streamed, generation_id, alignment),
        )
    return {
        "voice": voice,
        "dev": index < 0,
        "edited": edited,
        "seconds": len(clean) / RATE,
        "snr": snr,
        "pesq": quality,
        "embed": embed_seconds,
        "baseline": baseline_seconds,
        "detect": detect_seconds,
        "rows": rows,
    }


def _streamed(marker, clean: np.ndarray, generation_id: int) -> np.ndarray:
    """The clip marked as a stream may send it (services/synthesis Speaker.mark_chunks, its finest
    schedule): pieces of 2, 4, 8, 16, then 23 slots, each marked from its place in the block."""
    from kit.watermark import SLOT_SECONDS

    slot = SLOT_SECONDS * RATE
    pieces, start_slot, size = [], 0, 2
    while round(start_slot * slot) < len(clean):
        a, b = round(start_slot * slot), min(len(clean), round((start_slot + size) * slot))
        pieces.append(marker.embed(clean[a:b], RATE, generation_id, first_slot=start_slot))
        start_slot, size = start_slot + size, min(23, size * 2)
    return np.concatenate(pieces)


def _baseline(clean: np.ndarray) -> float:
    """Seconds for a fixed piece of the same arithmetic (ten STFT + inverse STFT round trips of the
    clip): the speed figures over it are comparable across days on a noisy machine."""
    from kit.watermark.spectrum import istft, stft

    started = time.perf_counter()
    for _ in range(10):
        istft(stft(clean), len(clean))
    return time.perf_counter() - started


def _fp_job(args):
    index, count, strength, full_search, dev = args
    from kit.watermark import Watermarker

    marker = Watermarker(KEY, strength)
    _, clean = _source(index, dev)
    rng = np.random.default_rng([10_000 + abs(index), index < 0])
    hits = 0
    started = time.perf_counter()
    for _ in range(count):
        start = int(rng.integers(0, max(1, len(clean) - 3 * RATE)))
        segment = clean[start : start + 3 * RATE]
        hits += marker.detect(segment, RATE, search_scales=full_search).watermarked
    return hits, time.perf_counter() - started, count * 3.0


def _table(results: list[dict]) -> None:
    print(f"{'attack':<34} {'detection':>10} {'bit accuracy':>13}")
    for name in results[0]["rows"]:
        detected = np.mean([r["rows"][name][0] for r in results])
        bits = [r["rows"][name][1] for r in results]
        accuracy = "—" if np.all(np.isnan(bits)) else f"{np.nanmean(bits):.4f}"
        print(f"{name:<34} {detected:10.3f} {accuracy:>13}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--fp-segments", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strength", type=float, default=1.5)
    parser.add_argument("--dev-voices", type=Path, default=DEV_VOICES, help="folder of real speech (FLAC); none: skip")
    parser.add_argument("--fp-plain", action="store_true", help="false positives without the tempo × pitch search")
    args = parser.parse_args()
    dev_folder = args.dev_voices.resolve()
    dev = dev_pieces(dev_folder) if dev_folder.is_dir() else []
    print(
        f"machine: {machine_facts()}; strength {args.strength} dB; {args.clips} synthetic clips; "
        f"{len(dev)} dev-voice pieces ({args.dev_voices}); workers {args.workers}"
    )
    started = time.time()
    indexes = list(range(args.clips)) + [-i - 1 for i in range(len(dev))]
    with Pool(args.workers) as pool:
        results = pool.map(_robustness_job, [(i, args.strength, dev_folder) for i in indexes], chunksize=2)
        per_clip = max(1, -(-args.fp_segments // len(indexes)))
        fp_jobs = [(i, per_clip, args.strength, not args.fp_plain, dev_folder) for i in indexes]
        fp = pool.map(_fp_job, fp_jobs, chunksize=4)
    synthetic = [r for r in results if not r["dev"]]
    real = [r for r in results if r["dev"]]
    print(f"synthetic voices ({len(synthetic)} clips of 5 s)")
    _table(synthetic)
    if real:
        print(f"dev voices: real German speakers ({len(real)} pieces of ≤ 5 s)")
        _table(real)
    fp_hits = sum(hits for hits, _, _ in fp)
    searched = "the clip as it is only" if args.fp_plain else "full search: the clip as it is, then every tempo × pitch"
    print(
        f"false positives: {fp_hits} in {per_clip * len(indexes)} unmarked 3 s segments "
        f"({per_clip * args.clips} synthetic, {per_clip * len(dev)} real; {searched})"
    )
    print(
        f"quality: SNR mean {np.mean([r['snr'] for r in results]):.1f} dB "
        f"(min {np.min([r['snr'] for r in results]):.1f}); PESQ-WB mean {np.mean([r['pesq'] for r in results]):.2f} "
        f"(min {np.min([r['pesq'] for r in results]):.2f}); synthetic {np.mean([r['pesq'] for r in synthetic]):.2f}"
        + (f", real {np.mean([r['pesq'] for r in real]):.2f}" if real else "")
    )
    by_voice: dict[str, list[float]] = {}
    for r in results:
        by_voice.setdefault(r["voice"], []).append(r["pesq"])
    lowest = sorted(by_voice.items(), key=lambda item: np.mean(item[1]))[:4]
    print(
        "PESQ-WB of the four lowest voices: "
        + ", ".join(f"{voice} {np.mean(scores):.2f} (min {np.min(scores):.2f})" for voice, scores in lowest)
    )
    audio = sum(r["seconds"] for r in results)
    edited_seconds = sum(r["edited"][0] for r in results)
    edited_audio = sum(r["edited"][1] for r in results)
    fp_seconds = sum(seconds for _, seconds, _ in fp)
    fp_audio = sum(audio for _, _, audio in fp)
    baseline = audio / sum(r["baseline"] for r in results)
    print(
        f"baseline (same run): ten STFT round trips {baseline:.0f}× real time; embed costs "
        f"{sum(r['embed'] for r in results) / sum(r['baseline'] for r in results):.2f} of them, detection of marked "
        f"clips {sum(r['detect'] for r in results) / sum(r['baseline'] for r in results):.2f}"
    )
    print(
        f"speed (1 thread per worker): embed {audio / sum(r['embed'] for r in results):.0f}× real time; "
        f"detect {audio / sum(r['detect'] for r in results):.0f}× (marked, no attack), "
        f"{edited_audio / max(edited_seconds, 1e-9):.1f}× (tempo and pitch edits), "
        f"{fp_audio / max(fp_seconds, 1e-9):.1f}× (unmarked 3 s segments, {searched}); "
        f"{audio:.0f} s of audio; run {time.time() - started:.0f}s"
    )


if __name__ == "__main__":
    main()
