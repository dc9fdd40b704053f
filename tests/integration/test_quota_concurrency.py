"""Quota reservations are atomic: concurrent reservations never oversell a tier's limits."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from kit.grpc.status import error_info
from tests.integration.conftest import bearer
from timbre.v1 import common_pb2, tenancy_pb2

pytestmark = pytest.mark.integration


def _reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason the server attached (a missing one fails the test here)."""
    info = error_info(error)
    assert info is not None, "the error carries no ErrorInfo"
    return info.reason


def _reserve_many(stub, token, requests: list[tenancy_pb2.ReserveQuotaRequest]):
    def reserve(request):
        try:
            return stub.ReserveQuota(request, metadata=bearer(token)).reservation_id
        except grpc.RpcError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(reserve, requests))


def test_100_concurrent_character_reservations_never_exceed_the_quota(tenancy_stub, service_token, new_tenant):
    tenant_id, _, _ = new_tenant("free")  # 10,000 characters a month
    results = _reserve_many(
        tenancy_stub, service_token, [tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, characters=150)] * 100
    )
    granted = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if not isinstance(r, str)]
    print(
        f"\nquota: 100 concurrent reservations of 150 chars on a 10,000 quota → "
        f"{len(granted)} granted ({len(granted) * 150} chars), {len(refused)} refused"
    )
    assert len(granted) == 10_000 // 150
    assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
    assert {_reason(e) for e in refused} == {"QUOTA_EXCEEDED"}
    usage = tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=bearer(service_token))
    assert usage.characters_reserved == len(granted) * 150 <= 10_000


def test_concurrent_job_slots_respect_the_tier_and_free_up_on_commit(tenancy_stub, service_token, new_tenant):
    tenant_id, _, _ = new_tenant("pro")  # 5 concurrent jobs
    results = _reserve_many(
        tenancy_stub,
        service_token,
        [tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, job_slots=1, characters=10)] * 30,
    )
    granted = [r for r in results if isinstance(r, str)]
    assert len(granted) == 5
    refused = [r for r in results if not isinstance(r, str)]
    assert {_reason(e) for e in refused} == {"CONCURRENCY_LIMIT"}
    tenancy_stub.CommitQuota(
        tenancy_pb2.CommitQuotaRequest(reservation_id=granted[0], characters=7), metadata=bearer(service_token)
    )
    tenancy_stub.ReleaseQuota(
        tenancy_pb2.ReleaseQuotaRequest(reservation_id=granted[1]), metadata=bearer(service_token)
    )
    again = _reserve_many(
        tenancy_stub, service_token, [tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, job_slots=1)] * 4
    )
    assert sum(isinstance(r, str) for r in again) == 2
    usage = tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=tenant_id), metadata=bearer(service_token))
    assert usage.characters_used == 7 and usage.jobs_running == 5


def test_voice_profiles_formats_idempotency_and_expiry(tenancy_stub, service_token, new_tenant):
    tenant_id, _, _ = new_tenant("free")
    md = bearer(service_token)
    first = tenancy_stub.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(
            tenant_id=tenant_id, voice_profiles=1, voice_id="v1", idempotency_key="enroll-v1"
        ),
        metadata=md,
    )
    repeat = tenancy_stub.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(
            tenant_id=tenant_id, voice_profiles=1, voice_id="v1", idempotency_key="enroll-v1"
        ),
        metadata=md,
    )
    assert repeat.reservation_id == first.reservation_id
    tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=first.reservation_id), metadata=md)
    tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=first.reservation_id), metadata=md)
    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.ReserveQuota(
            tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, voice_profiles=1, voice_id="v2"), metadata=md
        )
    assert _reason(caught.value) == "VOICE_PROFILE_LIMIT"
    tenancy_stub.ReleaseVoiceProfile(
        tenancy_pb2.ReleaseVoiceProfileRequest(tenant_id=tenant_id, voice_id="v1"), metadata=md
    )
    tenancy_stub.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, voice_profiles=1, voice_id="v2"), metadata=md
    )

    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.ReserveQuota(
            tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, format=common_pb2.AUDIO_FORMAT_WAV), metadata=md
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(caught.value) == "FORMAT_NOT_IN_TIER"

    # An abandoned reservation stops counting when its TTL lapses; work that outlived it still commits
    # (it ran: the quota counts it), while a released one cannot be committed.
    held = tenancy_stub.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, job_slots=1, ttl_seconds=1), metadata=md
    )
    with pytest.raises(grpc.RpcError):
        tenancy_stub.ReserveQuota(tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, job_slots=1), metadata=md)
    time.sleep(1.5)
    taken = tenancy_stub.ReserveQuota(tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, job_slots=1), metadata=md)
    tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=held.reservation_id), metadata=md)
    tenancy_stub.ReleaseQuota(tenancy_pb2.ReleaseQuotaRequest(reservation_id=taken.reservation_id), metadata=md)
    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.CommitQuota(tenancy_pb2.CommitQuotaRequest(reservation_id=taken.reservation_id), metadata=md)
    assert _reason(caught.value) == "RESERVATION_EXPIRED"


def test_tenants_cannot_reserve_quota_themselves(tenancy_stub, issue, new_tenant):
    tenant_id, api_key, _ = new_tenant("free")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    with pytest.raises(grpc.RpcError) as caught:
        tenancy_stub.ReserveQuota(
            tenancy_pb2.ReserveQuotaRequest(tenant_id=tenant_id, characters=1), metadata=bearer(token)
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
