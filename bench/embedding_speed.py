"""Speaker-embedding speed on one CPU thread: seconds of speech embedded per second (× real time)
for ECAPA and GE2E, with Silero VAD as a baseline in the same run.

Usage: python -m bench.embedding_speed [--seconds 30] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.common import machine_facts
from cli import samples
from kit.audio.vad import SileroVad
from kit.models import ModelStore
from services.embedding.encoders import load_encoder


def timed(call, repeats: int) -> float:
    call()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = ModelStore()
    text = " ".join(samples.PASSAGES)
    audio = samples.joe(text)[: int(args.seconds * samples.RATE)]
    seconds = len(audio) / samples.RATE
    print(f"machine: {machine_facts()}; torch {torch.__version__}, 1 thread; {seconds:.1f} s of speech")
    vad = SileroVad(store.require("silero_vad") / "silero_vad.onnx")
    rows = [("silero VAD (baseline)", timed(lambda: vad.analyse(audio), args.repeats))]
    for name in ("ecapa", "ge2e"):
        encoder = load_encoder(name, store)
        rows.append((f"{name} embedding", timed(lambda encoder=encoder: encoder.embed(audio), args.repeats)))
    for name, elapsed in rows:
        print(f"{name:<24} {elapsed * 1000:8.1f} ms  {seconds / elapsed:8.1f}× real time")


if __name__ == "__main__":
    main()
