"""What the watermark use cases call outside themselves: the provenance registry (in a unit of work) and
the mark codec. Adapters: `services.watermark.storage` and `kit.watermark.Watermarker`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from kit.watermark import Detection
from services.watermark.domain.provenance import Record


class ProvenanceRegistry(Protocol):
    def next_generation_id(self) -> int:
        """A fresh id for an embed (the lower half of the 32-bit space; synthesis numbers the upper)."""
        ...

    def record(self, record: Record, source: str) -> None:
        """Idempotent: a second record of a generation leaves the first as it was."""
        ...

    def find(self, generation_id: int) -> Record | None: ...


class UnitOfWork(Protocol):
    def begin(self) -> AbstractContextManager[ProvenanceRegistry]: ...

    def read(self) -> AbstractContextManager[ProvenanceRegistry]: ...


class Marker(Protocol):
    def embed(
        self, samples: np.ndarray, sample_rate: int, generation_id: int, strength_db: float | None = None
    ) -> np.ndarray:
        """The marked signal, same rate and length."""
        ...

    def detect(self, samples: np.ndarray, sample_rate: int) -> Detection: ...
