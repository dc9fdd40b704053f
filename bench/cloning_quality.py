"""Cloning quality and speed of the embedded engine on held-out target voices.

Targets: Kokoro-82M voice packs speaking English (neural voices unlike the Piper base); jf_alpha is
the development voice the method was tuned on and is reported apart; the other four are held out.
Reference: the target speaking passages 0–2, then bench/texts.py's reference sentences as far as
needed (cut to --reference-seconds), with or without its transcript. Test: the five sentences of
passages 3–5 and the ten test sentences of bench/texts.py (texts never in the reference). Per target:
- similarity (ECAPA and GE2E cosine) of each output to the target's real speech of the test texts,
  for the clone and for the base voice (Piper joe) speaking the same texts;
- pocketsphinx WER of clone and base outputs against the text, next to the WER of the target's own
  speech (pocketsphinx's en-us model does much worse on high voices: that is the floor a clone of
  such a voice can reach), and the same three WERs by Whisper base (int8, CTranslate2);
- clone build time, real-time factor of synthesis, time to the first chunk of a 200-character text.
One torch thread, one process.

Usage: python -m bench.cloning_quality [--targets jf_gongitsune,...] [--reference-seconds 30]
       [--no-transcript [--no-hear]] [--strength 0.5] [--class-strength 0.5] [--wave-share 0.0] [--no-fine-structure]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np
import torch

from bench.common import machine_facts

DEV_TARGET = "jf_alpha"
HELD_OUT = ("jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
FIRST_CHUNK_TEXT = (
    "Thank you for calling. Your order has shipped and should arrive on Friday. "
    "If you need anything else at all, just reply to this message and one of the people on our support team "
    "will help you, Samuel."
)


def test_sentences() -> list[str]:
    from bench.texts import TEST_SENTENCES
    from cli.samples import PASSAGES

    return [s for p in PASSAGES[3:6] for s in re.split(r"(?<=\.)\s+", p)] + list(TEST_SENTENCES)


def reference_texts() -> list[str]:
    from bench.texts import REFERENCE_SENTENCES
    from cli.samples import PASSAGES

    return [" ".join(PASSAGES[0:3]), *REFERENCE_SENTENCES]


def make_reference(speaker: str, seconds: float, rate: int = 16000) -> tuple[np.ndarray, str]:
    """The speaker reading the reference texts in order until `seconds` are reached, cut there."""
    from cli import samples

    pieces, texts = [], []
    for text in reference_texts():
        pieces.append(samples.speak(speaker, text))
        texts.append(text)
        if sum(len(p) for p in pieces) >= seconds * rate:
            break
    return cut_reference(np.concatenate(pieces), " ".join(texts), seconds, rate)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def transcribe(samples_16k: np.ndarray) -> str:
    from pocketsphinx import Decoder

    from kit.audio.codec import to_pcm16

    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(to_pcm16(samples_16k), full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def transcribe_whisper(samples_16k: np.ndarray) -> str:
    """Whisper base (CTranslate2, int8, one thread) from the model store: a judge that, unlike
    pocketsphinx, is not thrown by high voices."""
    from kit.models.whisper import load_whisper

    segments, _ = load_whisper().transcribe(samples_16k, language="en", beam_size=1, vad_filter=False)
    return " ".join(segment.text for segment in segments)


def number_words(text: str) -> str:
    from services.synthesis.engine.text import normalise

    return normalise(text, "en")


def cut_reference(audio: np.ndarray, text: str, seconds: float, rate: int = 16000) -> tuple[np.ndarray, str]:
    """The first `seconds` of the reference; the transcript cut in proportion (at a word) to match."""
    if len(audio) <= seconds * rate:
        return audio, text
    share = seconds * rate / len(audio)
    kept = text.split()
    return audio[: int(seconds * rate)], " ".join(kept[: max(1, int(len(kept) * share))])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", default=",".join(HELD_OUT))
    parser.add_argument("--reference-seconds", type=float, default=30.0)
    parser.add_argument("--no-transcript", action="store_true")
    parser.add_argument(
        "--no-hear",
        action="store_true",
        help="without a transcript, do not transcribe the reference either (nearest-frame pairs)",
    )
    parser.add_argument("--strength", type=float, default=None)
    parser.add_argument("--class-strength", type=float, default=None)
    parser.add_argument("--wave-share", type=float, default=None)
    parser.add_argument(
        "--no-fine-structure",
        action="store_true",
        help="keep the conversion's own harmonics (no reference fine structure)",
    )
    parser.add_argument("--max-pitch", type=float, default=None)
    parser.add_argument("--save", default="", help="folder to write the outputs as wav")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from cli import samples
    from kit.audio.codec import encode
    from kit.models import ModelStore
    from services.embedding.encoders import load_encoder
    from services.embedding.encoders.base import cosine
    from services.synthesis.engine.conversion import FitOptions
    from services.synthesis.engine.embedded import EmbeddedEngine
    from services.synthesis.engine.interface import SpeechOptions

    store = ModelStore()
    options = FitOptions()
    if args.strength is not None:
        options.strength = args.strength
    if args.class_strength is not None:
        options.class_strength = args.class_strength
    if args.wave_share is not None:
        options.wave_share = args.wave_share
    if args.no_fine_structure:
        options.fine_structure = False
    if args.no_hear:
        options.hear_references = False
    if args.max_pitch is not None:
        options.max_pitch_ratio = args.max_pitch
    engine = EmbeddedEngine(store, fit_options=options)
    encoders = {"ecapa": load_encoder("ecapa", store), "ge2e": load_encoder("ge2e", store)}
    sentences = test_sentences()
    english = SpeechOptions(language="en", sample_rate=16000)

    def speak(text: str, voice: bytes | None) -> tuple[np.ndarray, float]:
        started = time.process_time()
        audio = np.concatenate(list(engine.synthesize(text, voice, english)))
        return audio, time.process_time() - started

    base_outputs = [speak(s, None)[0] for s in sentences]
    base_wer = [wer(s, transcribe(a)) for s, a in zip(sentences, base_outputs, strict=True)]
    base_wwer = [wer(s, number_words(transcribe_whisper(a))) for s, a in zip(sentences, base_outputs, strict=True)]
    print(f"machine: {machine_facts()}; torch threads 1")
    print(f"reference {args.reference_seconds:g} s, transcript {'no' if args.no_transcript else 'yes'}, fit {options}")
    rows = []
    for target in args.targets.split(","):
        speaker = f"kokoro:{target}"
        reference, transcript = make_reference(speaker, args.reference_seconds)
        held_out_clips = [samples.speak(speaker, s) for s in sentences]
        held_out = np.concatenate(held_out_clips)
        started = time.monotonic()
        voice = engine.build_voice([reference], None if args.no_transcript else transcript)
        build = time.monotonic() - started
        clone_outputs, cpu = [], 0.0
        for s in sentences:
            audio, seconds = speak(s, voice)
            clone_outputs.append(audio)
            cpu += seconds
        audio_seconds = sum(len(a) for a in clone_outputs) / 16000
        started = time.monotonic()
        next(iter(engine.synthesize(FIRST_CHUNK_TEXT, voice, english)))
        first_chunk = time.monotonic() - started
        row = {
            "target": target,
            "reference_s": len(reference) / 16000,
            "build_s": build,
            "rtf": cpu / audio_seconds,
            "first_chunk_ms": first_chunk * 1000,
            "clone_wer": statistics.fmean(wer(s, transcribe(a)) for s, a in zip(sentences, clone_outputs, strict=True)),
            "base_wer": statistics.fmean(base_wer),
            "target_wer": statistics.fmean(
                wer(s, transcribe(a)) for s, a in zip(sentences, held_out_clips, strict=True)
            ),
            "clone_wwer": statistics.fmean(
                wer(s, number_words(transcribe_whisper(a))) for s, a in zip(sentences, clone_outputs, strict=True)
            ),
            "base_wwer": statistics.fmean(base_wwer),
            "target_wwer": statistics.fmean(
                wer(s, number_words(transcribe_whisper(a))) for s, a in zip(sentences, held_out_clips, strict=True)
            ),
        }
        for name, encoder in encoders.items():
            anchor = encoder.embed(held_out)
            row[f"{name}_clone"] = statistics.fmean(cosine(encoder.embed(a), anchor) for a in clone_outputs)
            row[f"{name}_base"] = statistics.fmean(cosine(encoder.embed(a), anchor) for a in base_outputs)
        rows.append(row)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        if args.save:
            import pathlib

            folder = pathlib.Path(args.save)
            folder.mkdir(parents=True, exist_ok=True)
            for i, audio in enumerate(clone_outputs):
                (folder / f"{target}_clone_{i}.wav").write_bytes(encode(audio, 16000))
            (folder / f"{target}_reference.wav").write_bytes(encode(reference, 16000))
            (folder / f"{target}_heldout.wav").write_bytes(encode(held_out, 16000))
            thai = np.concatenate(
                list(engine.synthesize("สวัสดีครับ วันนี้อากาศดีมาก", voice, SpeechOptions(language="th", sample_rate=16000)))
            )
            (folder / f"{target}_thai.wav").write_bytes(encode(thai, 16000))
    print(
        "\n| target | ECAPA clone | ECAPA base | Δ | GE2E clone | GE2E base | WER clone | WER base | WER target's "
        "own speech | Whisper WER clone / base / target | RTF | first chunk ms | build s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows + (
        [{k: (statistics.fmean(x[k] for x in rows) if k != "target" else "mean") for k in rows[0]}]
        if len(rows) > 1
        else []
    ):
        print(
            f"| {r['target']} | {r['ecapa_clone']:.3f} | {r['ecapa_base']:.3f} | "
            f"{r['ecapa_clone'] - r['ecapa_base']:+.3f} | {r['ge2e_clone']:.3f} | {r['ge2e_base']:.3f} | "
            f"{r['clone_wer']:.2f} | {r['base_wer']:.2f} | {r['target_wer']:.2f} | "
            f"{r['clone_wwer']:.2f} / {r['base_wwer']:.2f} / {r['target_wwer']:.2f} | {r['rtf']:.3f} | "
            f"{r['first_chunk_ms']:.0f} | "
            f"{r['build_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
