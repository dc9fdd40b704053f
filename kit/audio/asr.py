"""English speech recognition with PocketSphinx (its en-us model ships inside the package).

Used where a rough transcript is enough: consent phrase checks and intelligibility (WER) benchmarks.
"""

from __future__ import annotations

import re
import threading

import numpy as np

from kit.audio.codec import to_pcm16

_local = threading.local()


def _decoder():
    if getattr(_local, "decoder", None) is None:
        from pocketsphinx import Decoder

        _local.decoder = Decoder(samprate=16000, loglevel="FATAL")
    return _local.decoder


def transcribe_en(samples_16k: np.ndarray) -> str:
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(to_pcm16(samples_16k), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis else ""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def recognise_slots(samples_16k: np.ndarray, prefix: list[str], vocabulary: tuple[str, ...], slots: int) -> list[str]:
    """Closed-set recognition: an optional spoken prefix, then `slots` words each from `vocabulary`.

    A JSGF grammar turns open dictation (error-prone on unrelated nouns) into a choice among known
    words, so a phrase is recognised reliably and any other speech decodes to unrelated words.
    """
    from pocketsphinx import Decoder

    grammar = (
        "#JSGF V1.0;\ngrammar phrase;\n"
        f"public <s> = [ {' '.join(prefix)} ] {' '.join(['<w>'] * slots)};\n"
        f"<w> = {' | '.join(vocabulary)};\n"
    )
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.add_jsgf_string("phrase", grammar)
    decoder.activate_search("phrase")
    decoder.start_utt()
    decoder.process_raw(to_pcm16(samples_16k), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr.split()[-slots:] if hypothesis else []
