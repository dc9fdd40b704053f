"""Calibrate the duplicate-voice threshold: score same-speaker and different-speaker pairs over every
distinct voice this machine can make, report the EER and the threshold at a false-match rate ≤ 0.1%,
and write both, with the data behind them, to services/embedding/calibration/<encoder>.json.

Identities: each espeak-ng voice variant of en-us (~100; other accents were tried, but there some
variants fall back to the accent's default voice and give identical audio), the Piper "joe" voice
(a recorded human speaker), and joe pitch-shifted by ±4 and ±7 semitones (sox).
Same-speaker pairs: one identity, different passages. Different-speaker pairs:
different identities. Variants that ECAPA cannot tell apart on the very same sentence (mean
same-text score ≥ 0.9, as high as a real speaker's different-text score) are not distinct speakers:
such an identity is dropped before scoring, and the count of dropped ones is reported.

Usage: python -m bench.calibrate_threshold [--encoder ecapa] [--passages 4] [--workers 2] [--limit N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from bench.common import machine_facts

OUT = Path(__file__).resolve().parents[1] / "services" / "embedding" / "calibration"
TARGET_FMR = 0.001
SAME_VOICE = 0.9


def identities(limit: int | None) -> list[tuple[str, str]]:
    """(identity label, voice to synthesise with) for every clip source."""
    variants = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout.splitlines()[1:]
    names = sorted({line.split()[4].split("/")[-1] for line in variants if len(line.split()) > 4})
    found = [(v, v) for v in ("joe", "joe@+4", "joe@-4", "joe@+7", "joe@-7")]
    found += [(f"espeak:{v}", f"en-us+{v}") for v in names]
    found = found[:limit] if limit else found
    return found


def synthesise(identity: str, passage: int) -> np.ndarray:
    from cli import samples

    text = samples.PASSAGES[passage]
    if identity.startswith("joe"):
        audio = samples.joe(text)
        if "@" in identity:
            cents = int(identity.split("@")[1]) * 100
            with tempfile.TemporaryDirectory() as tmp:
                src, dst = Path(tmp, "in.wav"), Path(tmp, "out.wav")
                src.write_bytes(samples.wav_bytes(audio))
                subprocess.run(["sox", str(src), str(dst), "pitch", str(cents)], check=True)
                from kit.audio import decode

                audio = decode(dst.read_bytes()).samples
        return audio
    return samples.espeak(text, identity)


def _embed_job(args):
    encoder_name, label, identity, passage = args
    import torch

    torch.set_num_threads(1)
    global _ENCODER
    if "_ENCODER" not in globals():
        from kit.models import ModelStore
        from services.embedding.encoders import load_encoder

        _ENCODER = load_encoder(encoder_name, ModelStore())
    audio = synthesise(identity, passage)
    return label, (identity, passage), _ENCODER.embed(audio), len(audio) / 16000


def rates(same: np.ndarray, different: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false-match rate, false-reject rate) when scores ≥ threshold count as 'same voice'."""
    return float(np.mean(different >= threshold)), float(np.mean(same < threshold))


def equal_error(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    candidates = np.unique(np.concatenate([same, different]))
    best = min(candidates, key=lambda t: abs(np.subtract(*rates(same, different, t))))
    fmr, frr = rates(same, different, best)
    return (fmr + frr) / 2, float(best)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", default="ecapa")
    parser.add_argument("--passages", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    voices = identities(args.limit)
    jobs = [(args.encoder, label, v, p) for label, v in voices for p in range(args.passages)]
    started = time.time()
    with Pool(args.workers) as pool:
        results = pool.map(_embed_job, jobs, chunksize=4)
    elapsed = time.time() - started
    audio_seconds = sum(r[3] for r in results)
    by_voice: dict[str, dict[tuple, np.ndarray]] = {}
    for label, clip, vector, _ in results:
        by_voice.setdefault(label, {})[clip[1]] = vector  # first accent's clip per passage
    kept: list[str] = []
    reference = OUT / "ecapa.json"
    if args.encoder != "ecapa" and reference.is_file():
        # Compare encoders on the same identities: the ones ECAPA's calibration kept.
        kept = [v for v in json.loads(reference.read_text())["kept_identities"] if v in by_voice]
    else:
        for label in dict.fromkeys(label for label, _ in voices):
            mine = by_voice[label]
            if all(np.mean([float(mine[p] @ by_voice[k][p]) for p in mine]) < SAME_VOICE for k in kept):
                kept.append(label)
    dropped = len(by_voice) - len(kept)
    results = [r for r in results if r[0] in set(kept)]
    vectors = np.stack([r[2] for r in results])
    labels = [r[0] for r in results]
    scores = vectors @ vectors.T
    same, different, hardest = [], [], []
    clips = [r[1] for r in results]
    for i, j in itertools.combinations(range(len(results)), 2):
        if labels[i] == labels[j]:
            if clips[i][1] == clips[j][1]:
                continue  # same passage in another accent: not an independent recording
            same.append(scores[i, j])
        else:
            different.append(scores[i, j])
            hardest.append((float(scores[i, j]), labels[i], labels[j]))
    same, different = np.array(same), np.array(different)
    eer, eer_threshold = equal_error(same, different)
    ordered = np.sort(different)[::-1]
    allowed = int(np.floor(TARGET_FMR * len(different)))
    threshold = float(np.nextafter(ordered[allowed], np.inf)) if allowed < len(ordered) else float(ordered[-1])
    fmr, frr = rates(same, different, threshold)
    hardest.sort(reverse=True)
    quantiles = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1.0]
    report = {
        "encoder": args.encoder,
        "threshold": round(threshold, 4),
        "target_false_match_rate": TARGET_FMR,
        "false_match_rate": fmr,
        "false_reject_rate": frr,
        "eer": eer,
        "eer_threshold": eer_threshold,
        "identities": len(kept),
        "identities_dropped_as_indistinct": dropped,
        "kept_identities": kept,
        "clips": len(results),
        "same_pairs": int(len(same)),
        "different_pairs": int(len(different)),
        "same_quantiles": {str(q): float(np.quantile(same, q)) for q in quantiles},
        "different_quantiles": {str(q): float(np.quantile(different, q)) for q in quantiles},
        "hardest_different_pairs": [{"score": s, "a": a, "b": b} for s, a, b in hardest[:25]],
        "lowest_same_pairs": sorted(float(s) for s in same)[:10],
        "embedding_x_realtime": audio_seconds / elapsed * args.workers,
        "generated_by": "python -m bench.calibrate_threshold",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(),
    }
    print(f"machine: {machine_facts()}")
    print(
        f"encoder {args.encoder}: {len(kept)} voices ({dropped} indistinct dropped), {len(results)} clips, "
        f"{len(same)} same / "
        f"{len(different)} different pairs, {elapsed:.0f}s"
    )
    print(f"EER {eer:.2%} at {eer_threshold:.3f}; threshold {threshold:.3f} → FMR {fmr:.3%}, FRR {frr:.2%}")
    print("hardest different pairs:", [(round(s, 3), a, b) for s, a, b in hardest[:5]])
    if not args.no_write:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{args.encoder}.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {OUT / (args.encoder + '.json')}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
