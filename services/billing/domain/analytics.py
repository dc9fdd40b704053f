"""Usage analytics: what each finished request adds to its roll-up (tenant × UTC day × voice × language ×
model), and how roll-ups are grouped for a report. Latency is kept as DDSketches (relative accuracy 1%),
which merge exactly, so a month's p95 is computed from the days' sketches rather than averaged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ddsketch import DDSketch
from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.pb import ddsketch_pb2 as _pb2
from ddsketch.store import DenseStore

RELATIVE_ACCURACY = 0.01
GROUP_BYS = ("day", "month", "voice", "language", "model", "tenant")
ORDER_BYS = ("characters", "requests", "compute_seconds", "audio_seconds")
QUANTILES = (0.50, 0.95, 0.99)
# DDSketch's own protobuf messages (generated without type stubs).
pb: Any = _pb2


class LatencySketch:
    """Seconds of latency as a DDSketch. Serialised as DDSketch's own protobuf message (ddsketch.pb), with
    sparse bins (`binCounts`) rather than the library's dense encoding: a day of one voice holds a few
    dozen non-empty bins, the dense form a 128-bin chunk of zeros (~1 KB for one value)."""

    def __init__(self, sketch: BaseDDSketch | None = None) -> None:
        self._sketch = sketch if sketch is not None else DDSketch(RELATIVE_ACCURACY)

    @property
    def count(self) -> int:
        return int(self._sketch.count)

    def add(self, seconds: float) -> None:
        self._sketch.add(seconds)

    def merge(self, other: LatencySketch) -> None:
        self._sketch.merge(other._sketch)

    def quantile(self, q: float) -> float:
        """The value at quantile q, within 1% of the true one; 0.0 for an empty sketch."""
        value = self._sketch.get_quantile_value(q)
        return float(value) if value is not None else 0.0

    def summary(self) -> Percentiles:
        return Percentiles(*(self.quantile(q) for q in QUANTILES))

    def to_bytes(self) -> bytes:
        if self.count == 0:
            return b""
        mapping = self._sketch._mapping
        message = pb.DDSketch(
            mapping=pb.IndexMapping(
                gamma=mapping.gamma, indexOffset=mapping._offset, interpolation=pb.IndexMapping.NONE
            ),
            positiveValues=_sparse(self._sketch._store),
            negativeValues=_sparse(self._sketch._negative_store),
            zeroCount=self._sketch._zero_count,
        )
        return message.SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> LatencySketch:
        if not data:
            return cls()
        message = pb.DDSketch()
        message.ParseFromString(data)
        if message.mapping.interpolation != pb.IndexMapping.NONE:
            raise ValueError("only logarithmic DDSketch mappings are stored")
        mapping = LogarithmicMapping.from_gamma_offset(message.mapping.gamma, message.mapping.indexOffset)
        sketch = BaseDDSketch(
            mapping=mapping,
            store=_dense(message.positiveValues),
            negative_store=_dense(message.negativeValues),
            zero_count=message.zeroCount,
        )
        return cls(sketch)


def _sparse(store: DenseStore) -> Any:
    counts = {store.offset + i: count for i, count in enumerate(store.bins) if count}
    return pb.Store(binCounts=counts)


def _dense(message: Any) -> DenseStore:
    store = DenseStore()
    for key, count in sorted(message.binCounts.items()):
        store.add(key, count)
    # Other DDSketch implementations may write the contiguous form; read it too.
    for i, count in enumerate(message.contiguousBinCounts):
        if count:
            store.add(message.contiguousBinIndexOffset + i, count)
    return store


@dataclass(frozen=True)
class Percentiles:
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0


@dataclass(frozen=True)
class RollupKey:
    tenant_id: str
    day: date
    # Empty where the event did not say (events older than these fields).
    voice_id: str = ""
    language: str = ""
    model: str = ""


def day_of(occurred_at: datetime) -> date:
    """The UTC day an event belongs to: when it happened, not when it was consumed (late events land in
    their own day)."""
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return occurred_at.astimezone(UTC).date()


@dataclass
class Counters:
    """A roll-up's amounts. `requests` counts every finished request, failed ones included; `failures` the
    failed ones. Characters and seconds are what was delivered (and billed): failures add none."""

    requests: int = 0
    failures: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    first_chunk: LatencySketch = field(default_factory=LatencySketch)
    total: LatencySketch = field(default_factory=LatencySketch)

    def absorb(self, other: Counters) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.characters += other.characters
        self.audio_seconds += other.audio_seconds
        self.compute_seconds += other.compute_seconds
        self.first_chunk.merge(other.first_chunk)
        self.total.merge(other.total)


@dataclass
class Rollup:
    key: RollupKey
    counters: Counters = field(default_factory=Counters)


def succeeded(
    key: RollupKey,
    characters: int,
    audio_seconds: float,
    compute_seconds: float,
    first_chunk_seconds: float = 0.0,
    total_seconds: float = 0.0,
) -> Rollup:
    """One successful request's contribution. A latency of 0 means "not measured" (older events): no sample."""
    if characters < 0 or audio_seconds < 0 or compute_seconds < 0 or first_chunk_seconds < 0 or total_seconds < 0:
        raise ValueError("usage amounts must not be negative")
    counters = Counters(1, 0, characters, audio_seconds, compute_seconds)
    if first_chunk_seconds > 0:
        counters.first_chunk.add(first_chunk_seconds)
    if total_seconds > 0:
        counters.total.add(total_seconds)
    return Rollup(key, counters)


def failed(key: RollupKey) -> Rollup:
    """One failed request's contribution: a request and a failure, nothing delivered."""
    return Rollup(key, Counters(requests=1, failures=1))


# --- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    key: str
    requests: int
    failures: int
    characters: int
    audio_seconds: float
    compute_seconds: float
    first_chunk: Percentiles
    total: Percentiles

    @classmethod
    def of(cls, key: str, counters: Counters) -> UsageRow:
        return cls(
            key,
            counters.requests,
            counters.failures,
            counters.characters,
            counters.audio_seconds,
            counters.compute_seconds,
            counters.first_chunk.summary(),
            counters.total.summary(),
        )


@dataclass(frozen=True)
class UsageReport:
    tenant_id: str  # empty: all tenants
    first: date
    last: date
    group_by: str
    rows: list[UsageRow]
    totals: UsageRow
    voice_id: str = ""  # empty: every voice


def group_key(key: RollupKey, group_by: str) -> str:
    if group_by == "day":
        return key.day.isoformat()
    if group_by == "month":
        return month_of(key.day)
    if group_by == "voice":
        return key.voice_id
    if group_by == "language":
        return key.language
    if group_by == "model":
        return key.model
    if group_by == "tenant":
        return key.tenant_id
    raise ValueError(f"unknown group_by {group_by!r}")


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months(first: date, last: date) -> list[str]:
    """Every calendar month ("YYYY-MM") the days first..last touch, oldest first."""
    found = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return found


def report(
    tenant_id: str, first: date, last: date, group_by: str, rollups: Iterable[Rollup], voice_id: str = ""
) -> UsageReport:
    """Roll-ups merged per group, plus a totals row over all of them. Grouped by day (or month), every day
    (month) of the range has a row (zeros where nothing happened), oldest first; other groupings list the
    keys that had usage, most requests first. `voice_id`: the rollups are that voice's only."""
    groups: dict[str, Counters] = {}
    totals = Counters()
    for rollup in rollups:
        groups.setdefault(group_key(rollup.key, group_by), Counters()).absorb(rollup.counters)
        totals.absorb(rollup.counters)
    if group_by == "day":
        keys = [d.isoformat() for d in days(first, last)]
    elif group_by == "month":
        keys = months(first, last)
    else:
        keys = sorted(groups, key=lambda k: (-groups[k].requests, k))
    rows = [UsageRow.of(k, groups.get(k) or Counters()) for k in keys]
    return UsageReport(tenant_id, first, last, group_by, rows, UsageRow.of("total", totals), voice_id)


def top(rollups: Iterable[Rollup], order_by: str, limit: int) -> list[UsageRow]:
    """Tenants by `order_by` (largest first; ties by tenant id), at most `limit`."""
    if order_by not in ORDER_BYS:
        raise ValueError(f"unknown order_by {order_by!r}")
    groups: dict[str, Counters] = {}
    for rollup in rollups:
        groups.setdefault(rollup.key.tenant_id, Counters()).absorb(rollup.counters)
    ranked = sorted(groups, key=lambda t: (-getattr(groups[t], order_by), t))[:limit]
    return [UsageRow.of(t, groups[t]) for t in ranked]


# --- storage per tenant --------------------------------------------------------------------------

# Object keys that belong to a tenant are "<kind>/<tenant id>/...": kit.storage.keys (samples, models),
# synthesis's job objects (jobs) and embedding's consent evidence (consents).
TENANT_KEY_KINDS = ("samples", "models", "jobs", "consents")


def tenant_of_key(key: str) -> str | None:
    parts = key.split("/", 2)
    if len(parts) == 3 and parts[0] in TENANT_KEY_KINDS and parts[1]:
        return parts[1]
    return None


@dataclass(frozen=True)
class TenantStorage:
    tenant_id: str
    bytes: int
    objects: int


def storage_by_tenant(objects: Iterable[tuple[str, int]]) -> list[TenantStorage]:
    """(key, size) pairs summed per tenant, largest first; keys of no tenant (shared models) are left out."""
    sizes: dict[str, list[int]] = {}
    for key, size in objects:
        tenant = tenant_of_key(key)
        if tenant is not None:
            entry = sizes.setdefault(tenant, [0, 0])
            entry[0] += size
            entry[1] += 1
    return sorted((TenantStorage(t, b, n) for t, (b, n) in sizes.items()), key=lambda s: (-s.bytes, s.tenant_id))
