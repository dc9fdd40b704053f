"""What F5 is asked to say, piece by piece, and how long each piece should last.

F5 generates a whole piece at once (no audio until its last flow step), so the time to first audio
is the time to generate the first piece: that piece is cut short (its first clause, or a few words),
and the rest of the text follows sentence by sentence.

F5 infers a piece's duration from the reference: its frames per unit of transcript times the
piece's units. F5's own code counts UTF-8 bytes, which weighs Thai (3 bytes a letter) three times
English; here a unit is a spacing character (tone marks and the vowels written above or below are
not), which Thai and English speech covers at a similar rate.
"""

from __future__ import annotations

import unicodedata

from services.synthesis.engine.text import chunk_text, normalise

FIRST_PIECE_CHARS = 40  # about 2–3 s of speech: the first audio comes after that much is generated
MIN_UNITS = 6  # a very short piece gets the time of this many units (F5 slows short texts down too)
MAX_PIECE_CHARS = 300


def units(text: str) -> int:
    """Spacing characters: what a piece's spoken length is proportional to."""
    return sum(1 for c in text if not unicodedata.category(c).startswith("M"))


def pieces(text: str, language: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """Normalised text → the pieces to generate in order: a short first piece, then sentences (each
    at most `limit` characters)."""
    sentences = chunk_text(normalise(text, language), language, limit=max(FIRST_PIECE_CHARS, limit))
    if not sentences:
        return []
    first, rest = sentences[0], sentences[1:]
    if len(first) <= FIRST_PIECE_CHARS:
        return sentences
    head = chunk_text(first, language, limit=FIRST_PIECE_CHARS)[0]
    tail = first[len(head) :].strip() if first.startswith(head) else first
    return [head, tail, *rest] if tail and tail != first else sentences


def with_reference(transcript: str) -> str:
    """The reference's transcript as the prompt F5 continues: ended like a sentence, then a space."""
    transcript = transcript.strip()
    if transcript and transcript[-1] not in ".!?。":
        transcript += "."
    return transcript + " "
