"""English speech recognition with PocketSphinx (its en-us model ships inside the package).

Used for consent phrase checks.
"""

from __future__ import annotations

import numpy as np

from kit.audio.codec import to_pcm16


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
