"""How many cases each isolation test tried, printed at the end of the run (conftest's summary hook)."""

from __future__ import annotations

from collections import Counter

tried: Counter[str] = Counter()
timings: dict[str, float] = {}


def add(kind: str, number: int = 1) -> None:
    tried[kind] += number


def report() -> list[str]:
    lines = [f"{kind}: {number} cases" for kind, number in sorted(tried.items())]
    lines.append(f"total: {sum(tried.values())} cases")
    lines += [f"{what}: {seconds}" for what, seconds in timings.items()]
    return lines
