"""The provenance registry: recording completed generations, and reading a generation's record."""

from __future__ import annotations

from kit.errors import NotFound
from services.watermark.domain.callers import Caller
from services.watermark.domain.provenance import MAX_GENERATION_ID, Record
from services.watermark.service_layer.ports import ProvenanceRegistry, UnitOfWork

SYNTHESIS_SOURCE = "synthesis"


def record_generation(registry: ProvenanceRegistry, record: Record) -> None:
    """A generation synthesis completed (from its event; a redelivery changes nothing)."""
    registry.record(record, source=SYNTHESIS_SOURCE)


class Provenance:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def lookup(self, caller: Caller, generation_id: int) -> tuple[Record, bool]:
        """The record as `caller` may see it, and whether that is the full record (owner or operator);
        anyone else learns only that Timbre generated it, and when."""
        record = None
        if 0 < generation_id <= MAX_GENERATION_ID:
            with self.uow.read() as registry:
                record = registry.find(generation_id)
        if record is None:
            raise NotFound("no generation with that id")
        return record.visible_to(caller.tenant_id, caller.privileged)
