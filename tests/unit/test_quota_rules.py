from datetime import UTC, datetime

import pytest

from kit.errors import InvalidArgument, PermissionDenied, QuotaExceeded
from kit.periods import period_of, period_reset
from services.tenancy.domain.quota import QuotaRequest, UsageSnapshot, check
from services.tenancy.domain.tiers import TIERS

NOW = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
EMPTY = UsageSnapshot(0, 0, 0, 0)


def test_characters_count_used_plus_reserved():
    free = TIERS["free"]
    check(free, UsageSnapshot(6000, 3000, 0, 0), QuotaRequest(characters=1000), NOW)
    with pytest.raises(QuotaExceeded) as caught:
        check(free, UsageSnapshot(6000, 3000, 0, 0), QuotaRequest(characters=1001), NOW)
    assert caught.value.metadata["remaining"] == "1000"
    assert caught.value.metadata["reset_time"] == "2027-01-01T00:00:00+00:00"


def test_voice_profiles_jobs_and_formats_per_tier():
    with pytest.raises(QuotaExceeded) as caught:
        check(TIERS["free"], UsageSnapshot(0, 0, 1, 0), QuotaRequest(voice_profiles=1), NOW)
    assert caught.value.reason == "VOICE_PROFILE_LIMIT"
    check(TIERS["pro"], UsageSnapshot(0, 0, 9, 4), QuotaRequest(voice_profiles=1, job_slots=1), NOW)
    with pytest.raises(QuotaExceeded) as caught:
        check(TIERS["pro"], UsageSnapshot(0, 0, 0, 5), QuotaRequest(job_slots=1), NOW)
    assert caught.value.reason == "CONCURRENCY_LIMIT"
    with pytest.raises(PermissionDenied) as denied:
        check(TIERS["pro"], EMPTY, QuotaRequest(format="ogg"), NOW)
    assert denied.value.reason == "FORMAT_NOT_IN_TIER"
    check(TIERS["enterprise"], EMPTY, QuotaRequest(format="ogg"), NOW)


def test_enterprise_characters_and_profiles_are_unlimited():
    check(
        TIERS["enterprise"], UsageSnapshot(10**12, 0, 10**6, 0), QuotaRequest(characters=10**9, voice_profiles=1), NOW
    )
    with pytest.raises(QuotaExceeded):
        check(TIERS["enterprise"], UsageSnapshot(0, 0, 0, 50), QuotaRequest(job_slots=1), NOW)


@pytest.mark.parametrize(
    "request_", [QuotaRequest(characters=-1), QuotaRequest(job_slots=2), QuotaRequest(voice_profiles=3)]
)
def test_malformed_requests(request_):
    with pytest.raises(InvalidArgument):
        check(TIERS["pro"], EMPTY, request_, NOW)


def test_periods_are_utc_months():
    assert period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert period_reset(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_reset(datetime(2026, 3, 5, tzinfo=UTC)) == datetime(2026, 4, 1, tzinfo=UTC)
