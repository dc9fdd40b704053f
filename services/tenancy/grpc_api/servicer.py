"""TenancyService RPCs. Each method authorises the caller, translates the request, calls the service
layer and translates its domain answer back; no rules live here."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp

from kit.errors import InvalidArgument
from kit.grpc.auth import current_principal
from kit.grpc.convert import FORMAT_CODES, FORMAT_NAMES, TIER_CODES, TIER_NAMES, page_request, page_response, ts
from services.tenancy.billing_codes import BILLING_STATE_CODES
from services.tenancy.domain.accounts import ApiKey, Tenant
from services.tenancy.domain.api_keys import display
from services.tenancy.domain.quota import QuotaRequest
from services.tenancy.domain.tiers import limits_for
from services.tenancy.service_layer.accounts import Accounts
from services.tenancy.service_layer.quotas import Quotas
from services.tenancy.service_layer.tokens import Tokens
from timbre.v1 import common_pb2, tenancy_pb2, tenancy_pb2_grpc

PUBLIC_METHODS = ("IssueToken", "GetJwks")


def tenant_message(tenant: Tenant) -> tenancy_pb2.Tenant:
    return tenancy_pb2.Tenant(
        tenant_id=tenant.id,
        name=tenant.name,
        tier=TIER_CODES[tenant.tier],
        create_time=ts(tenant.created_at),
        billing_state=BILLING_STATE_CODES[tenant.billing.state],
        billing_reason=tenant.billing.reason,
    )


def key_message(key: ApiKey) -> tenancy_pb2.ApiKey:
    return tenancy_pb2.ApiKey(
        key_id=key.id,
        prefix=display(key.prefix),
        name=key.name,
        create_time=ts(key.created_at),
        last_used_time=ts(key.last_used_at),
        revoke_time=ts(key.revoked_at),
    )


def limits_message(tier: str) -> tenancy_pb2.TierLimits:
    limits = limits_for(tier)
    return tenancy_pb2.TierLimits(
        tier=TIER_CODES[tier],
        characters_per_month=limits.characters_per_month,
        voice_profiles=limits.voice_profiles,
        concurrent_jobs=limits.concurrent_jobs,
        formats=[FORMAT_CODES[f] for f in limits.formats],
    )


def _stamp(epoch: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(int(epoch))
    return stamp


class TenancyServicer(tenancy_pb2_grpc.TenancyServiceServicer):
    def __init__(self, accounts: Accounts, tokens: Tokens, quotas: Quotas) -> None:
        self.accounts = accounts
        self.tokens = tokens
        self.quotas = quotas

    # --- tenants ---------------------------------------------------------------------------

    def CreateTenant(self, request, context):
        current_principal().require_operator()
        tier = TIER_NAMES.get(request.tier)
        if tier is None:
            raise InvalidArgument("tier must be TIER_FREE, TIER_PRO or TIER_ENTERPRISE")
        tenant, issued = self.accounts.create_tenant(request.name, tier)
        return tenancy_pb2.CreateTenantResponse(
            tenant=tenant_message(tenant), api_key=key_message(issued.key), api_key_secret=issued.secret
        )

    def GetTenant(self, request, context):
        tenant_id = current_principal().tenant_scope(request.tenant_id)
        tenant = self.accounts.get_tenant(tenant_id)
        return tenancy_pb2.GetTenantResponse(tenant=tenant_message(tenant), limits=limits_message(tenant.tier))

    def ChangeTier(self, request, context):
        current_principal().require_operator()
        tier = TIER_NAMES.get(request.tier)
        if tier is None:
            raise InvalidArgument("tier must be TIER_FREE, TIER_PRO or TIER_ENTERPRISE")
        return tenancy_pb2.ChangeTierResponse(tenant=tenant_message(self.accounts.change_tier(request.tenant_id, tier)))

    def GetUsage(self, request, context):
        tenant_id = current_principal().tenant_scope(request.tenant_id)
        report = self.quotas.usage(tenant_id)
        usage = report.usage
        return tenancy_pb2.GetUsageResponse(
            tenant_id=tenant_id,
            period=report.period,
            limits=limits_message(report.tenant.tier),
            characters_used=usage.characters_used,
            characters_reserved=usage.characters_reserved,
            voice_profiles_used=usage.voice_profiles_used,
            jobs_running=usage.jobs_running,
            period_reset_time=ts(report.period_reset),
        )

    # --- API keys --------------------------------------------------------------------------

    def CreateApiKey(self, request, context):
        tenant_id = current_principal().tenant_scope()
        issued = self.accounts.create_api_key(tenant_id, request.name)
        return tenancy_pb2.CreateApiKeyResponse(api_key=key_message(issued.key), api_key_secret=issued.secret)

    def ListApiKeys(self, request, context):
        tenant_id = current_principal().tenant_scope()
        page = self.accounts.list_api_keys(tenant_id, page_request(request.page))
        return tenancy_pb2.ListApiKeysResponse(
            api_keys=[key_message(key) for key in page.items], page=page_response(page)
        )

    def RevokeApiKey(self, request, context):
        tenant_id = current_principal().tenant_scope()
        return tenancy_pb2.RevokeApiKeyResponse(
            api_key=key_message(self.accounts.revoke_api_key(tenant_id, request.key_id))
        )

    # --- tokens ----------------------------------------------------------------------------

    def IssueToken(self, request, context):
        grant = request.WhichOneof("grant")
        if grant == "api_key":
            issued = self.tokens.for_api_key(request.api_key)
        elif grant == "operator_secret":
            issued = self.tokens.for_operator(request.operator_secret)
        elif grant == "service":
            issued = self.tokens.for_service(request.service.service_name, request.service.secret)
        else:
            raise InvalidArgument("one grant is required: api_key, operator_secret or service")
        return tenancy_pb2.IssueTokenResponse(
            access_token=issued.token,
            expire_time=_stamp(issued.expires_at),
            tenant_id=issued.tenant_id,
            key_id=issued.key_id,
            tier=TIER_CODES.get(issued.tier, common_pb2.TIER_UNSPECIFIED),
        )

    def GetJwks(self, request, context):
        return tenancy_pb2.GetJwksResponse(jwks_json=json.dumps(self.tokens.jwks()))

    # --- quotas ----------------------------------------------------------------------------

    def ReserveQuota(self, request, context):
        current_principal().require_privileged()
        fmt = FORMAT_NAMES.get(request.format) if request.format else None
        reservation = self.quotas.reserve(
            current_principal().tenant_scope(request.tenant_id),
            QuotaRequest(request.characters, request.voice_profiles, request.job_slots, fmt),
            ttl_seconds=request.ttl_seconds,
            idempotency_key=request.idempotency_key,
            voice_id=request.voice_id,
        )
        return tenancy_pb2.ReserveQuotaResponse(reservation_id=reservation.id, expire_time=ts(reservation.expires_at))

    def CommitQuota(self, request, context):
        current_principal().require_privileged()
        self.quotas.commit(request.reservation_id, request.characters)
        return tenancy_pb2.CommitQuotaResponse()

    def ReleaseQuota(self, request, context):
        current_principal().require_privileged()
        self.quotas.release(request.reservation_id)
        return tenancy_pb2.ReleaseQuotaResponse()

    def ReleaseVoiceProfile(self, request, context):
        current_principal().require_privileged()
        tenant_id = current_principal().tenant_scope(request.tenant_id)
        self.quotas.release_voice_profile(tenant_id, request.voice_id)
        return tenancy_pb2.ReleaseVoiceProfileResponse()
