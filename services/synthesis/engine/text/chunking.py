"""Sentence chunking: streaming yields the first sentence as soon as it is spoken, and no chunk is
longer than a model can take (long sentences split at clause marks, then at word boundaries)."""

from __future__ import annotations

import re

MAX_CHUNK_CHARS = 300  # Piper and espeak both cope; XTTS's English limit is 250 tokens ≈ 400 chars
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


THAI_PHRASES_PER_CHUNK_CHARS = 120


def _thai_sentences(text: str) -> list[str]:
    """Thai writes no full stops: a space ends a phrase or a sentence. Phrases are joined up to
    ~120 characters so a chunk is a sentence-sized piece (the CRF sentence cutter needs an extra
    native package, python-crfsuite, for little gain here)."""
    sentences: list[str] = []
    for line in text.splitlines():
        current = ""
        for phrase in line.split():
            if current and len(current) + 1 + len(phrase) > THAI_PHRASES_PER_CHUNK_CHARS:
                sentences.append(current)
                current = phrase
            else:
                current = f"{current} {phrase}" if current else phrase
        if current:
            sentences.append(current)
    return sentences


def _split_long(sentence: str, limit: int, language: str) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    parts = _CLAUSE_END.split(sentence)
    if len(parts) == 1:  # no clause marks: words (Thai words from the tokenizer, not spaces)
        if language == "th":
            from pythainlp.tokenize import word_tokenize

            parts = word_tokenize(sentence, engine="newmm", keep_whitespace=True)
            joiner = ""
        else:
            parts = sentence.split(" ")
            joiner = " "
    else:
        joiner = " "
    chunks, current = [], ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current.strip())
        # a single part over the limit (one endless "word") is cut hard
        while len(part) > limit:
            chunks.append(part[:limit])
            part = part[limit:]
        current = part
    if current.strip():
        chunks.append(current.strip())
    return [c for c in chunks if c]


def chunk_text(text: str, language: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Sentences in order, each at most `limit` characters."""
    sentences = (
        _thai_sentences(text) if language == "th" else [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    )
    chunks: list[str] = []
    for sentence in sentences:
        chunks.extend(_split_long(sentence, limit, language))
    return chunks


FIRST_WORDS_CHARS = 16  # ~2–3 English words: what a live stream's engine speaks before anything else


def split_first(chunks: list[str], language: str, limit: int = FIRST_WORDS_CHARS) -> list[str]:
    """The first chunk's first clause or first few words on their own, the rest of it after: a live
    stream's first audio then waits for those words, not the whole first sentence (at the price of
    a phrase break there)."""
    if not chunks or len(chunks[0]) <= limit:
        return chunks
    first, rest = chunks[0], chunks[1:]
    phrases = first.split(" ")
    if language == "th" and len(phrases[0]) <= limit:  # a Thai space ends a phrase: the natural cut
        parts = _split_long(first, limit, "en")  # joins whole space-separated phrases up to the limit
    else:
        parts = _split_long(first, limit, language)
    if len(parts) < 2:
        return chunks
    head = parts[0]
    tail = first[first.index(head) + len(head) :].strip() if head in first else " ".join(parts[1:])
    return [head, tail, *rest] if tail else chunks
