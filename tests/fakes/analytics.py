"""Usage analytics' roll-ups in memory (as the SQL adapter keeps them: one merged row per key, sketches
through their byte form), and the gateway's UsageAnalyticsService stub as a fake that records requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from kit.errors import TimbreError
from services.billing.domain.analytics import Counters, LatencySketch, Rollup, RollupKey
from tests.fakes.gateway import FakeRpcError
from timbre.v1 import billing_pb2


def _stored(counters: Counters) -> Counters:
    """A copy as the database would hand it back (sketches serialised and parsed)."""
    return Counters(
        counters.requests,
        counters.failures,
        counters.characters,
        counters.audio_seconds,
        counters.compute_seconds,
        LatencySketch.from_bytes(counters.first_chunk.to_bytes()),
        LatencySketch.from_bytes(counters.total.to_bytes()),
    )


class FakeRollups:
    def __init__(self) -> None:
        self.rows: dict[RollupKey, Counters] = {}

    def add(self, contribution: Rollup) -> None:
        merged = _stored(self.rows.get(contribution.key) or Counters())
        merged.absorb(contribution.counters)
        self.rows[contribution.key] = _stored(merged)

    def between(
        self, first: date, last: date, tenant_ids: list[str] | None = None, voice_id: str | None = None
    ) -> list[Rollup]:
        return [
            Rollup(key, _stored(counters))
            for key, counters in sorted(self.rows.items(), key=lambda kv: (kv[0].tenant_id, kv[0].day))
            if first <= key.day <= last
            and (tenant_ids is None or key.tenant_id in tenant_ids)
            and (voice_id is None or key.voice_id == voice_id)
        ]

    def top_tenants(self, first: date, last: date, order_by: str, limit: int) -> list[str]:
        sums: dict[str, float] = {}
        for key, counters in self.rows.items():
            if first <= key.day <= last:
                sums[key.tenant_id] = sums.get(key.tenant_id, 0) + getattr(counters, order_by)
        return sorted(sums, key=lambda t: (-sums[t], t))[:limit]


class FakeAnalyticsUnitOfWork:
    def __init__(self, rollups: FakeRollups | None = None) -> None:
        self.rollups = rollups or FakeRollups()

    @contextmanager
    def read(self) -> Iterator[FakeRollups]:
        yield self.rollups


@dataclass
class FakeAnalyticsStub:
    """UsageAnalyticsService as the gateway calls it: canned replies, the requests it saw, optional errors."""

    usage: billing_pb2.QueryUsageResponse = field(default_factory=billing_pb2.QueryUsageResponse)
    top: billing_pb2.ListTopTenantsResponse = field(default_factory=billing_pb2.ListTopTenantsResponse)
    storage: billing_pb2.ListTenantStorageResponse = field(default_factory=billing_pb2.ListTenantStorageResponse)
    error: TimbreError | None = None
    requests: list = field(default_factory=list)

    def _answer(self, request, reply):
        self.requests.append(request)
        if self.error is not None:
            raise FakeRpcError(self.error)
        return reply

    def QueryUsage(self, request, metadata=None) -> billing_pb2.QueryUsageResponse:
        return self._answer(request, self.usage)

    def ListTopTenants(self, request, metadata=None) -> billing_pb2.ListTopTenantsResponse:
        return self._answer(request, self.top)

    def ListTenantStorage(self, request, metadata=None) -> billing_pb2.ListTenantStorageResponse:
        return self._answer(request, self.storage)
