"""Text front end: normalisation (numbers, dates, money, abbreviations → words) and sentence chunking."""

from services.synthesis.engine.text.chunking import chunk_text, split_first
from services.synthesis.engine.text.normalise import normalise

__all__ = ["chunk_text", "normalise", "split_first"]
