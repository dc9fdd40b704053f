"""Text → IPA phonemes with espeak-ng (the phoneme set Piper voices were trained on).

Clauses are phonemized one by one so their punctuation (which espeak drops) can be put back:
Piper models use it for pauses and intonation.
"""

from __future__ import annotations

import re
import shutil
import subprocess

_CLAUSE = re.compile(r"[^,;:.!?]+[,;:.!?]*")


class PhonemizerMissing(RuntimeError):
    pass


def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise PhonemizerMissing("espeak-ng is not installed (Debian package espeak-ng)")
    return path


def phonemize(text: str, voice: str = "en-us") -> list[str]:
    """Clauses of IPA, each ending with its punctuation mark when it had one."""
    clauses = [c.strip() for c in _CLAUSE.findall(text) if c.strip()]
    if not clauses:
        return []
    # One espeak process for all clauses: one clause per line in, one line per clause out.
    marks = [c[-1] if c[-1] in ",;:.!?" else "" for c in clauses]
    bodies = [c.rstrip(",;:.!?").strip() for c in clauses]
    result = subprocess.run(
        [espeak_binary(), "-q", "--ipa", "-v", voice, "--stdin"],
        input="\n".join(bodies) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if len(lines) != len(bodies):  # espeak split or merged clauses: fall back to one call each
        lines = [
            " ".join(
                subprocess.run(
                    [espeak_binary(), "-q", "--ipa", "-v", voice, body], capture_output=True, text=True, check=True
                ).stdout.split()
            )
            for body in bodies
        ]
    return [line + mark for line, mark in zip(lines, marks, strict=False)]
