"""Text that arrives in pieces (an LLM's tokens), released a sentence at a time: a sentence is spoken
once it has ended, so its words get their whole sentence's prosody."""

from __future__ import annotations

import re

from services.synthesis.engine.text.chunking import THAI_PHRASES_PER_CHUNK_CHARS

# A sentence has ended when its mark is followed by white space (a "3." inside "3.5" has not).
_ENDED = re.compile(r"[.!?…]+[\"')\]]*\s+|\n+")


class SentenceBuffer:
    def __init__(self, language: str) -> None:
        self.language = language
        self.pending = ""

    def add(self, text: str) -> list[str]:
        """More text → the sentences it completed (possibly none)."""
        self.pending += text
        if self.language == "th":
            return self._thai()
        ends = [m.end() for m in _ENDED.finditer(self.pending)]
        if not ends:
            return []
        done, self.pending = self.pending[: ends[-1]], self.pending[ends[-1] :]
        return [done.strip()] if done.strip() else []

    def _thai(self) -> list[str]:
        """Thai writes no full stops: a line break ends a sentence, and so does a space (a phrase's end)
        once a sentence-sized run of phrases has gathered."""
        done = ""
        if "\n" in self.pending:
            cut = self.pending.rindex("\n") + 1
            done, self.pending = self.pending[:cut], self.pending[cut:]
        if len(self.pending) >= THAI_PHRASES_PER_CHUNK_CHARS and " " in self.pending.strip():
            cut = self.pending.rstrip().rindex(" ") + 1
            done, self.pending = done + self.pending[:cut], self.pending[cut:]
        return [done.strip()] if done.strip() else []

    def flush(self) -> str:
        """Whatever has arrived and not been released, ended or not."""
        rest, self.pending = self.pending.strip(), ""
        return rest
