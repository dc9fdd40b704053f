"""Spoken consent: the statement with its random phrase, and whether a transcript says the phrase."""

from __future__ import annotations

import re
import secrets

# Short, common words that ASR dictionaries know and that are hard to confuse with each other.
WORDS = (
    "apple",
    "river",
    "garden",
    "yellow",
    "window",
    "silver",
    "market",
    "orange",
    "pencil",
    "forest",
    "camera",
    "doctor",
    "island",
    "button",
    "rocket",
    "summer",
    "winter",
    "planet",
    "bottle",
    "butter",
    "candle",
    "castle",
    "dragon",
    "engine",
    "finger",
    "guitar",
    "hammer",
    "jacket",
    "kitten",
    "ladder",
    "mirror",
    "monkey",
    "number",
    "pepper",
    "pillow",
    "rabbit",
    "saddle",
    "spider",
    "ticket",
    "tomato",
    "turtle",
    "violin",
    "wallet",
    "zebra",
    "bridge",
    "cookie",
    "flower",
    "lemon",
    "magnet",
    "needle",
)
ALL_PROHIBITED_USES = frozenset({1, 2, 3, 4, 5})
STATEMENTS = {
    "en": (
        "I consent to Timbre creating and using a synthetic copy of my voice for the purpose I state. "
        "My verification phrase is: {phrase}."
    ),
    "th": "ข้าพเจ้ายินยอมให้ Timbre สร้างและใช้เสียงสังเคราะห์ของข้าพเจ้าตามวัตถุประสงค์ที่ระบุ วลียืนยันของข้าพเจ้าคือ: {phrase}",
}


def new_phrase(words: int = 4) -> str:
    chosen: list[str] = []
    while len(chosen) < words:
        word = secrets.choice(WORDS)
        if word not in chosen:
            chosen.append(word)
    return " ".join(chosen)


def statement(language: str, phrase: str) -> str:
    return STATEMENTS.get(language, STATEMENTS["en"]).format(phrase=phrase)


def statement_prefix(language: str) -> list[str]:
    """The statement's fixed words before the phrase, lower-case (for the recogniser's grammar)."""
    return re.findall(r"[a-z]+", STATEMENTS.get(language, STATEMENTS["en"]).split("{phrase}")[0].lower())


def phrase_match(phrase: str, heard: list[str]) -> float:
    """Fraction of the phrase's words heard in their place."""
    words = phrase.lower().split()
    return sum(a == b for a, b in zip(words, heard, strict=False)) / len(words) if words else 0.0
