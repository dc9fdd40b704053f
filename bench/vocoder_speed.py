"""HiFi-GAN on the CPU: int8 ONNX (the default) against float torch weights — speed on one thread
(CPU s per s of audio) and speaker fidelity (ECAPA cosine of a resynthesis to the original, and
the same mel goes into both, so only the vocoder differs).

Usage: python -m bench.vocoder_speed [--speakers joe,kokoro:jm_kumo]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import machine_facts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", default="joe")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from cli import samples
    from kit.audio.codec import resample
    from kit.models import ModelStore
    from services.embedding.encoders import load_encoder
    from services.embedding.encoders.base import cosine
    from services.synthesis.engine.mel import RATE, log_mel
    from services.synthesis.engine.vocoder import INT8_MODEL, OnnxHifiGan, TorchHifiGan

    store = ModelStore()
    folder = store.require("hifigan")
    vocoders = {
        "float torch": TorchHifiGan(folder / "generator_universal.pth.tar"),
        "int8 onnx": OnnxHifiGan(folder / INT8_MODEL),
    }
    ecapa = load_encoder("ecapa", store)
    print(f"machine: {machine_facts()}; one thread")
    for speaker in args.speakers.split(","):
        clips = [samples.speak(speaker, text) for text in samples.PASSAGES[3:6]]
        for name, vocoder in vocoders.items():
            cpu, seconds, fidelity = 0.0, 0.0, []
            for clip in clips:
                mel = log_mel(resample(clip, samples.RATE, RATE))
                started = time.process_time()
                out = vocoder(mel)
                cpu += time.process_time() - started
                seconds += len(out) / RATE
                fidelity.append(cosine(ecapa.embed(resample(out, RATE, samples.RATE)), ecapa.embed(clip)))
            print(
                f"{speaker:<18} {name:<12} {cpu / seconds:.3f} CPU s per s   "
                f"ECAPA resynthesis↔original {statistics.fmean(fidelity):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
