"""The provenance registry in memory (the watermark service's repository port and its unit of work)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.watermark.domain.provenance import Record


class FakeProvenanceRegistry:
    def __init__(self, first_id: int = 1) -> None:
        self.records: dict[int, Record] = {}
        self.sources: dict[int, str] = {}
        self._next = first_id

    def next_generation_id(self) -> int:
        self._next += 1
        return self._next - 1

    def record(self, record: Record, source: str) -> None:
        if record.generation_id not in self.records:  # the first record stays, as in the real registry
            self.records[record.generation_id] = record
            self.sources[record.generation_id] = source

    def find(self, generation_id: int) -> Record | None:
        return self.records.get(generation_id)


class FakeProvenanceUnitOfWork:
    def __init__(self, registry: FakeProvenanceRegistry | None = None) -> None:
        self.registry = registry or FakeProvenanceRegistry()
        self.commits = 0

    @contextmanager
    def begin(self) -> Iterator[FakeProvenanceRegistry]:
        yield self.registry
        self.commits += 1

    @contextmanager
    def read(self) -> Iterator[FakeProvenanceRegistry]:
        yield self.registry
