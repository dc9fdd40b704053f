"""What the fuzzers tried, printed at the end of the run (conftest's pytest_terminal_summary): the
figures a report quotes come from the run itself."""

from __future__ import annotations

from collections import Counter


class Tally:
    def __init__(self, name: str, unit: str) -> None:
        self.name = name
        self.unit = unit
        self.cases: Counter[str] = Counter()  # per operation or method
        self.failures: Counter[str] = Counter()
        self.notes: list[str] = []

    def line(self) -> str:
        failing = {key: count for key, count in self.failures.items() if count}
        failures = f" ({failing})" if failing else ""
        notes = "".join(f"; {note}" for note in self.notes)
        return (
            f"{self.name}: {len(self.cases)} {self.unit}, {sum(self.cases.values())} cases, "
            f"{sum(self.failures.values())} failing{failures}{notes}"
        )


TALLIES: dict[str, Tally] = {}


def tally(name: str, unit: str) -> Tally:
    return TALLIES.setdefault(name, Tally(name, unit))
