"""Tenancy's use cases on fakes: tenants, API keys, tokens and quota reservations, no database."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, QuotaExceeded, Unauthenticated
from kit.events.envelope import pack, unpack
from kit.events.topics import TENANT_EVENTS
from kit.grpc import auth
from kit.paging import PageRequest
from services.tenancy.billing_codes import BILLING_STATE_CODES, BILLING_STATE_NAMES
from services.tenancy.domain import tokens as roles
from services.tenancy.domain.billing import STATES, BillingStanding, BillingVerdict
from services.tenancy.domain.quota import QuotaRequest
from services.tenancy.events.handlers import usage_handlers, verdict_of
from services.tenancy.service_layer import billing
from services.tenancy.service_layer.accounts import Accounts
from services.tenancy.service_layer.quotas import Quotas, settle
from services.tenancy.service_layer.tokens import Tokens
from tests.fakes.clock import FakeClock
from tests.fakes.tenancy import FakeTenancyUnitOfWork, FakeTokenSigner
from timbre.v1 import common_pb2, events_pb2

TIER_CODES = {"free": common_pb2.TIER_FREE, "pro": common_pb2.TIER_PRO, "enterprise": common_pb2.TIER_ENTERPRISE}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def uow(clock) -> FakeTenancyUnitOfWork:
    return FakeTenancyUnitOfWork(clock)


@pytest.fixture
def accounts(uow) -> Accounts:
    return Accounts(uow, TIER_CODES)


@pytest.fixture
def tokens(accounts, clock) -> Tokens:
    return Tokens(accounts, FakeTokenSigner(), clock, "operator-secret", "service-secret", 300, 900)


@pytest.fixture
def quotas(uow, clock) -> Quotas:
    return Quotas(uow, clock)


# --- tenants and API keys -----------------------------------------------------------------------


def test_create_tenant_issues_a_default_key_and_announces_the_tenant(accounts, uow):
    tenant, issued = accounts.create_tenant("  Acme  ", "pro")
    assert (tenant.name, tenant.tier) == ("Acme", "pro")
    assert issued.key.tenant_id == tenant.id and issued.key.name == "default"
    assert issued.secret.startswith(f"tmb_{issued.key.prefix}_") and issued.secret not in issued.key.key_hash
    ((topic, key, event),) = uow.state.events
    assert (topic, key, event.tenant_id, event.name, event.tier) == (
        TENANT_EVENTS.name,
        tenant.id,
        tenant.id,
        "Acme",
        2,
    )
    assert accounts.get_tenant(tenant.id) == tenant


@pytest.mark.parametrize(("name", "tier"), [("", "pro"), ("x" * 201, "pro"), ("Acme", "gold")])
def test_create_tenant_refuses_bad_names_and_tiers_and_stores_nothing(accounts, uow, name, tier):
    with pytest.raises(InvalidArgument):
        accounts.create_tenant(name, tier)
    assert not uow.state.tenants and not uow.state.events


def test_unknown_tenants_are_not_found(accounts):
    for tenant_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            accounts.get_tenant(tenant_id)


def test_an_issued_key_grants_a_tenant_token_until_revoked(accounts, tokens, uow):
    tenant, _ = accounts.create_tenant("Acme", "pro")
    issued = accounts.create_api_key(tenant.id, "ci")
    token = tokens.for_api_key(issued.secret)
    claims = tokens.signer.signed[token.token]
    assert (claims.role, claims.tenant_id, claims.key_id, claims.tier) == ("tenant", tenant.id, issued.key.id, "pro")
    assert claims.expires_at - claims.issued_at == 300 and token.expires_at == claims.expires_at
    assert uow.state.api_keys[issued.key.id].last_used_at is not None

    revoked = accounts.revoke_api_key(tenant.id, issued.key.id)
    assert revoked.revoked
    again = accounts.revoke_api_key(tenant.id, issued.key.id)
    assert again.revoked_at == revoked.revoked_at
    assert uow.event_types() == ["TenantCreated", "ApiKeyRevoked"]  # revoked once, announced once
    with pytest.raises(Unauthenticated) as caught:
        tokens.for_api_key(issued.secret)
    assert caught.value.reason == "API_KEY_REVOKED"


def test_a_wrong_or_malformed_secret_is_unauthenticated(accounts, tokens):
    _, issued = accounts.create_tenant("Acme", "free")
    for secret in (issued.secret[:-1] + ("A" if not issued.secret.endswith("A") else "B"), "not a key", ""):
        with pytest.raises(Unauthenticated):
            tokens.for_api_key(secret)


def test_another_tenants_key_cannot_be_revoked(accounts, uow):
    mine, my_key = accounts.create_tenant("Mine", "free")
    theirs, _ = accounts.create_tenant("Theirs", "free")
    with pytest.raises(NotFound):
        accounts.revoke_api_key(theirs.id, my_key.key.id)
    assert not uow.state.api_keys[my_key.key.id].revoked


def test_api_keys_page_by_creation_with_a_next_token_only_when_more_follow(accounts, clock):
    tenant, first = accounts.create_tenant("Acme", "pro")
    later = []
    for name in ("a", "b"):
        clock.advance(1)
        later.append(accounts.create_api_key(tenant.id, name).key)
    page = accounts.list_api_keys(tenant.id, PageRequest.of(2, ""))
    assert [k.id for k in page.items] == [first.key.id, later[0].id] and page.next_token
    rest = accounts.list_api_keys(tenant.id, PageRequest.of(2, page.next_token))
    assert [k.id for k in rest.items] == [later[1].id] and rest.next_token == ""
    exact = accounts.list_api_keys(tenant.id, PageRequest.of(3, ""))
    assert len(exact.items) == 3 and exact.next is None


def test_privileged_tokens_need_the_deployment_secrets(tokens, accounts, clock):
    operator = tokens.signer.signed[tokens.for_operator("operator-secret").token]
    assert (operator.role, operator.subject, operator.expires_at - operator.issued_at) == ("operator", "operator", 900)
    service = tokens.signer.signed[tokens.for_service("synthesis", "service-secret").token]
    assert (service.role, service.subject) == ("service", "service:synthesis")
    for grant in (lambda: tokens.for_operator("guess"), lambda: tokens.for_service("synthesis", "guess")):
        with pytest.raises(Unauthenticated):
            grant()
    disabled = Tokens(accounts, FakeTokenSigner(), clock, None, None)
    with pytest.raises(Unauthenticated, match="disabled"):
        disabled.for_operator("")


def test_token_roles_are_the_ones_the_verifier_reads():
    assert (roles.ROLE_TENANT, roles.ROLE_OPERATOR, roles.ROLE_SERVICE) == (
        auth.ROLE_TENANT,
        auth.ROLE_OPERATOR,
        auth.ROLE_SERVICE,
    )


# --- quota reservations -----------------------------------------------------------------------


def test_reserve_commit_and_release(accounts, quotas):
    tenant, _ = accounts.create_tenant("Acme", "free")  # 10,000 characters a month
    held = quotas.reserve(tenant.id, QuotaRequest(characters=4000))
    freed = quotas.reserve(tenant.id, QuotaRequest(characters=3000))
    assert quotas.usage(tenant.id).usage.characters_reserved == 7000

    quotas.commit(held.id, characters=2500)
    quotas.commit(held.id, characters=2500)  # a retried commit changes nothing
    quotas.release(freed.id)
    usage = quotas.usage(tenant.id).usage
    assert (usage.characters_used, usage.characters_reserved) == (2500, 0)
    with pytest.raises(InvalidArgument):
        quotas.commit(quotas.reserve(tenant.id, QuotaRequest(characters=10)).id, characters=11)


def test_a_reservation_over_the_limit_is_refused_and_holds_nothing(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    quotas.reserve(tenant.id, QuotaRequest(characters=9000))
    with pytest.raises(QuotaExceeded) as caught:
        quotas.reserve(tenant.id, QuotaRequest(characters=1001))
    assert caught.value.reason == "QUOTA_EXCEEDED" and caught.value.metadata["remaining"] == "1000"
    assert len(uow.state.reservations) == 1
    quotas.reserve(tenant.id, QuotaRequest(characters=1000))  # exactly what is left still fits


def test_an_idempotency_key_returns_the_first_reservation(accounts, quotas):
    tenant, _ = accounts.create_tenant("Acme", "free")
    first = quotas.reserve(tenant.id, QuotaRequest(voice_profiles=1), idempotency_key="enroll", voice_id="v1")
    assert quotas.reserve(tenant.id, QuotaRequest(voice_profiles=1), idempotency_key="enroll", voice_id="v1") == first
    quotas.commit(first.id)
    with pytest.raises(QuotaExceeded) as caught:
        quotas.reserve(tenant.id, QuotaRequest(voice_profiles=1), voice_id="v2")
    assert caught.value.reason == "VOICE_PROFILE_LIMIT"
    quotas.release_voice_profile(tenant.id, "v1")
    quotas.reserve(tenant.id, QuotaRequest(voice_profiles=1), voice_id="v2")


def test_a_lapsed_reservation_stops_counting_and_is_swept_yet_a_late_commit_counts_it_once(
    accounts, quotas, clock, uow
):
    tenant, _ = accounts.create_tenant("Acme", "free")  # one concurrent job
    held = quotas.reserve(tenant.id, QuotaRequest(characters=100, job_slots=1), ttl_seconds=60)
    with pytest.raises(QuotaExceeded) as caught:
        quotas.reserve(tenant.id, QuotaRequest(job_slots=1))
    assert caught.value.reason == "CONCURRENCY_LIMIT"

    clock.advance(59)
    assert quotas.sweep() == 0
    clock.advance(1)  # the TTL has lapsed: no longer counted, before any sweep
    assert quotas.usage(tenant.id).usage.jobs_running == 0
    other = quotas.reserve(tenant.id, QuotaRequest(characters=50, job_slots=1), ttl_seconds=60)
    # The work it held for ran while it lapsed: the commit counts it rather than failing the caller.
    quotas.commit(held.id)
    quotas.commit(held.id)
    assert quotas.usage(tenant.id).usage.characters_used == 100
    assert uow.state.reservations[held.id].status == "committed"
    assert quotas.sweep() == 0  # committed, so not swept; `other` is still live

    clock.advance(60)
    assert quotas.sweep() == 1 and uow.state.reservations[other.id].status == "expired"
    quotas.commit(other.id, characters=40)  # swept, then committed: still counted, once
    quotas.commit(other.id, characters=40)
    assert quotas.usage(tenant.id).usage.characters_used == 140
    assert uow.state.reservations[other.id].status == "committed"


def test_a_released_reservation_cannot_be_committed(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    held = quotas.reserve(tenant.id, QuotaRequest(characters=100))
    quotas.release(held.id)
    with pytest.raises(FailedPrecondition) as caught:
        quotas.commit(held.id)
    assert caught.value.reason == "RESERVATION_EXPIRED"
    assert quotas.usage(tenant.id).usage.characters_used == 0
    assert uow.state.reservations[held.id].status == "released"


# --- settling reservations from recorded usage --------------------------------------------------


def _settle(uow, reservation_id: str, characters: int) -> bool:
    with uow.begin() as tx:
        return settle(tx, reservation_id, characters)


def _lapse(quotas, clock, held):
    clock.advance(61)


def _sweep(quotas, clock, held):
    clock.advance(61)
    assert quotas.sweep() == 1


def _release(quotas, clock, held):
    quotas.release(held.id)


@pytest.mark.parametrize("became", [None, _lapse, _sweep, _release], ids=["live", "lapsed", "swept", "released"])
def test_recorded_usage_settles_its_reservation_whatever_became_of_it_once(accounts, quotas, clock, uow, became):
    tenant, _ = accounts.create_tenant("Acme", "free")
    held = quotas.reserve(tenant.id, QuotaRequest(characters=100, job_slots=1), ttl_seconds=60)
    if became is not None:
        became(quotas, clock, held)
    assert _settle(uow, held.id, 90)
    usage = quotas.usage(tenant.id).usage
    assert (usage.characters_used, usage.characters_reserved, usage.jobs_running) == (90, 0, 0)
    assert uow.state.reservations[held.id].status == "committed"
    assert not _settle(uow, held.id, 90)  # the same usage again (another event id): counted already
    quotas.commit(held.id)  # a commit arriving after the settlement changes nothing either
    assert quotas.usage(tenant.id).usage.characters_used == 90


def test_a_commit_then_the_usage_event_count_the_characters_once(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    held = quotas.reserve(tenant.id, QuotaRequest(characters=100))
    quotas.commit(held.id)
    assert not _settle(uow, held.id, 100)
    assert quotas.usage(tenant.id).usage.characters_used == 100


def test_usage_for_an_unknown_reservation_is_skipped(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    for reservation_id in ("00000000-0000-0000-0000-000000000000", "nope"):
        assert not _settle(uow, reservation_id, 100)  # logged, not raised: a retry would not find it either
    assert quotas.usage(tenant.id).usage.characters_used == 0


def test_the_usage_handler_settles_the_reservation_the_event_names(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    held = quotas.reserve(tenant.id, QuotaRequest(characters=100))
    (on_usage,) = usage_handlers(lambda conn: conn).values()  # the "connection" is the fake transaction

    def deliver(payload: events_pb2.UsageRecorded) -> None:
        with uow.begin() as tx:
            on_usage(tx, unpack(pack(payload, tenant_id=tenant.id).SerializeToString()))

    deliver(events_pb2.UsageRecorded(tenant_id=tenant.id, characters=100))  # no reservation named: nothing to do
    assert uow.state.reservations[held.id].status == "active"
    deliver(events_pb2.UsageRecorded(tenant_id=tenant.id, characters=80, reservation_id=held.id))
    assert quotas.usage(tenant.id).usage.characters_used == 80
    assert uow.state.reservations[held.id].status == "committed"


@pytest.mark.parametrize(
    ("request_", "kwargs"),
    [
        (QuotaRequest(characters=-1), {}),
        (QuotaRequest(voice_profiles=1), {}),  # no voice_id
        (QuotaRequest(characters=1), {"ttl_seconds": 24 * 3600 + 1}),
    ],
)
def test_malformed_reservations_are_invalid(accounts, quotas, request_, kwargs):
    tenant, _ = accounts.create_tenant("Acme", "pro")
    with pytest.raises(InvalidArgument):
        quotas.reserve(tenant.id, request_, **kwargs)


def test_unknown_tenants_and_reservations_are_not_found(quotas):
    with pytest.raises(NotFound):
        quotas.reserve("00000000-0000-0000-0000-000000000000", QuotaRequest(characters=1))
    for call in (quotas.commit, quotas.release):
        with pytest.raises(NotFound):
            call("00000000-0000-0000-0000-000000000000")
        with pytest.raises(NotFound):
            call("nope")


# --- tier changes -----------------------------------------------------------------------------


def test_a_tier_change_moves_the_limits_and_announces_it_once(accounts, quotas, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")  # 10,000 characters a month
    with pytest.raises(QuotaExceeded):
        quotas.reserve(tenant.id, QuotaRequest(characters=20_000))

    changed = accounts.change_tier(tenant.id, "pro")
    assert changed.tier == "pro" and accounts.get_tenant(tenant.id).tier == "pro"
    assert quotas.reserve(tenant.id, QuotaRequest(characters=20_000)).characters == 20_000  # pro: 500,000
    (topic, key, event) = uow.state.events[-1]
    assert (topic, key, event.tenant_id, event.tier, event.previous_tier) == (
        TENANT_EVENTS.name,
        tenant.id,
        tenant.id,
        common_pb2.TIER_PRO,
        common_pb2.TIER_FREE,
    )

    assert accounts.change_tier(tenant.id, "pro") == changed  # the same tier again: nothing to announce
    assert uow.event_types() == ["TenantCreated", "TenantTierChanged"]


def test_a_tier_change_needs_a_known_tenant_and_tier(accounts, uow):
    tenant, _ = accounts.create_tenant("Acme", "free")
    for tenant_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            accounts.change_tier(tenant_id, "pro")
    with pytest.raises(InvalidArgument):
        accounts.change_tier(tenant.id, "gold")
    assert accounts.get_tenant(tenant.id).tier == "free" and uow.event_types() == ["TenantCreated"]


# --- billing standing ---------------------------------------------------------------------------


def _verdict(clock, tenant_id: str, state: str, reason: str = "", seconds: float = 0.0) -> BillingVerdict:
    return BillingVerdict(tenant_id, state, reason, clock.now() + timedelta(seconds=seconds), f"evt_{state}")


def _apply(uow, verdict: BillingVerdict) -> bool:
    with uow.begin() as tx:
        return billing.apply_verdict(tx, verdict)


def test_a_suspended_tenants_keys_get_no_token_until_billing_restores_it(accounts, tokens, uow, clock):
    tenant, issued = accounts.create_tenant("Acme", "pro")
    other, other_key = accounts.create_tenant("Other", "pro")

    assert _apply(uow, _verdict(clock, tenant.id, "past_due", "invoice in_1 payment failed"))
    assert tokens.for_api_key(issued.secret).tenant_id == tenant.id  # past due: still working

    clock.advance(60)
    assert _apply(uow, _verdict(clock, tenant.id, "suspended", "invoice in_1 unpaid after 7 days"))
    with pytest.raises(FailedPrecondition) as caught:
        tokens.for_api_key(issued.secret)
    assert caught.value.reason == "TENANT_SUSPENDED"
    assert caught.value.message == (
        "the tenant is suspended: invoice in_1 unpaid after 7 days; pay the open invoice to restore access"
    )
    assert tokens.for_api_key(other_key.secret).tenant_id == other.id  # other tenants are untouched
    assert tokens.for_operator("operator-secret").token  # operators have no tenant to suspend
    standing = accounts.get_tenant(tenant.id).billing
    assert (standing.state, standing.stripe_event_id) == ("suspended", "evt_suspended")

    clock.advance(60)
    assert _apply(uow, _verdict(clock, tenant.id, "active", "invoice in_1 paid"))
    assert tokens.for_api_key(issued.secret).tenant_id == tenant.id  # the very next request works
    restored = accounts.get_tenant(tenant.id).billing
    assert (restored.state, restored.reason) == ("active", "")  # nothing left to explain


def test_a_verdict_older_than_the_recorded_one_is_dropped(accounts, tokens, uow, clock):
    tenant, issued = accounts.create_tenant("Acme", "pro")
    suspended = _verdict(clock, tenant.id, "suspended", "unpaid")
    restored = _verdict(clock, tenant.id, "active", seconds=30)
    assert _apply(uow, restored)
    assert not _apply(uow, suspended)  # replayed after the restore it came before
    assert accounts.get_tenant(tenant.id).billing.state == "active"
    assert tokens.for_api_key(issued.secret).tenant_id == tenant.id
    # At the same instant the later arrival wins, so a redecided state is not lost to a tie.
    assert _apply(uow, _verdict(clock, tenant.id, "past_due", seconds=30))
    assert accounts.get_tenant(tenant.id).billing.state == "past_due"


def test_verdicts_for_unknown_tenants_or_states_change_nothing(accounts, uow, clock):
    tenant, _ = accounts.create_tenant("Acme", "pro")
    assert not _apply(uow, _verdict(clock, "00000000-0000-0000-0000-000000000000", "suspended"))
    with pytest.raises(InvalidArgument):
        _apply(uow, _verdict(clock, tenant.id, "frozen"))
    assert accounts.get_tenant(tenant.id).billing == BillingStanding()


def test_a_suspended_tenant_reserves_no_new_work(accounts, quotas, uow, clock):
    tenant, _ = accounts.create_tenant("Acme", "pro")
    before = quotas.reserve(tenant.id, QuotaRequest(characters=100), idempotency_key="job-1")
    _apply(uow, _verdict(clock, tenant.id, "suspended", "subscription cancelled"))
    with pytest.raises(FailedPrecondition) as caught:
        quotas.reserve(tenant.id, QuotaRequest(characters=100))
    assert caught.value.reason == "TENANT_SUSPENDED"
    # A retried reservation made before the suspension is the one already held, not new work.
    assert quotas.reserve(tenant.id, QuotaRequest(characters=100), idempotency_key="job-1") == before
    quotas.commit(before.id)  # work already under way finishes


def test_the_billing_event_handler_reads_the_verdict_and_its_decision_time(clock):
    envelope = pack(
        events_pb2.TenantBillingStateChanged(
            tenant_id="t-1", state=common_pb2.BILLING_STATE_SUSPENDED, reason="unpaid", stripe_event_id="evt_1"
        ),
        tenant_id="t-1",
    )
    event = unpack(envelope.SerializeToString())
    verdict = verdict_of(event)
    assert (verdict.tenant_id, verdict.state, verdict.reason, verdict.stripe_event_id) == (
        "t-1",
        "suspended",
        "unpaid",
        "evt_1",
    )
    assert verdict.decided_at == envelope.occurred_at.ToDatetime(tzinfo=UTC)
    unspecified = unpack(pack(events_pb2.TenantBillingStateChanged(tenant_id="t-1")).SerializeToString())
    with pytest.raises(InvalidArgument):
        verdict_of(unspecified)
    assert set(BILLING_STATE_CODES) == set(STATES) and common_pb2.BILLING_STATE_UNSPECIFIED not in BILLING_STATE_NAMES
