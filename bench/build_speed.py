"""Voice build time on one warm engine: each base corpus spoken once per engine (the default)
against re-spoken at every build (the engine before the cache), for the three kinds of reference:
Thai (both base voices pair by nearest frames), English with a transcript, English heard by Whisper.

Usage: python -m bench.build_speed [--builds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import machine_facts

THAI = "วันนี้อากาศดีมาก เราจะไปเที่ยวทะเลด้วยกัน ฉันชอบกินข้าวผัดและต้มยำกุ้ง คุณแม่ของฉันชอบปลูกต้นไม้ในสวนหลังบ้าน ทุกเย็นเราจะนั่งคุยกันที่ระเบียง "


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--builds", type=int, default=3, help="timed builds per reference and mode")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from cli import samples
    from services.synthesis.engine.embedded import EmbeddedEngine

    english = " ".join(samples.PASSAGES[:2])
    references = {
        "thai": ([samples.espeak(THAI * 2, "th")], None),
        "english + transcript": ([samples.espeak(english, "en-us+f3")], english),
        "english, heard": ([samples.espeak(english, "en-us+f3")], None),
    }
    engine = EmbeddedEngine()
    engine.build_voice(*references["thai"])  # loads Piper, espeak, Whisper; fills the base F0s
    print(f"machine: {machine_facts()}; one thread; {args.builds} builds each, median wall seconds")
    for name, (audio, transcript) in references.items():
        seconds = sum(len(a) for a in audio) / samples.RATE
        timed = {}
        for mode in ("re-spoken", "spoken once"):
            walls = []
            for _ in range(args.builds):
                if mode == "re-spoken":
                    engine._corpus_cache.clear()
                started = time.perf_counter()
                engine.build_voice(audio, transcript)
                walls.append(time.perf_counter() - started)
            timed[mode] = statistics.median(walls)
        print(
            f"{name:<22} reference {seconds:5.1f} s   re-spoken {timed['re-spoken']:5.2f} s   "
            f"spoken once {timed['spoken once']:5.2f} s   ratio {timed['spoken once'] / timed['re-spoken']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
