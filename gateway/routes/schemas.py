"""JSON shapes of the REST API (pydantic), and their conversion from protos."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from kit.grpc.convert import FORMAT_NAMES
from timbre.v1 import common_pb2, embedding_pb2, synthesis_pb2, tenancy_pb2

# The REST names of the protos' enums: the gateway's own vocabulary, part of the public API.
Tier = Literal["free", "pro", "enterprise"]
TIER_CODES: dict[Tier, common_pb2.Tier] = {
    "free": common_pb2.TIER_FREE,
    "pro": common_pb2.TIER_PRO,
    "enterprise": common_pb2.TIER_ENTERPRISE,
}
TIER_NAMES: dict[int, Tier] = {code: name for name, code in TIER_CODES.items()}

JobStateName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# Derived from the enum (JOB_STATE_QUEUED → "queued"); a unit test keeps JobStateName in step.
# The cast: the stubs type EnumTypeWrapper.items() as plain ints, though they are the enum's values.
JOB_STATE_CODES: dict[str, synthesis_pb2.JobState] = {
    name.removeprefix("JOB_STATE_").lower(): cast(synthesis_pb2.JobState, number)
    for name, number in synthesis_pb2.JobState.items()
    if number != synthesis_pb2.JOB_STATE_UNSPECIFIED
}
JOB_STATE_NAMES: dict[int, str] = {code: name for name, code in JOB_STATE_CODES.items()}

BillingStateName = Literal["active", "past_due", "suspended"]
# Derived from the enum like the job states (BILLING_STATE_PAST_DUE → "past_due").
BILLING_STATE_NAMES: dict[int, str] = {
    number: name.removeprefix("BILLING_STATE_").lower()
    for name, number in common_pb2.BillingState.items()
    if number != common_pb2.BILLING_STATE_UNSPECIFIED
}

WebhookEventName = Literal["job.succeeded", "job.failed"]
# Spelled out: the dotted names are a convention, not derivable from the enum; a unit test checks
# that every event of the enum has one.
WEBHOOK_EVENT_CODES: dict[WebhookEventName, synthesis_pb2.WebhookEvent] = {
    "job.succeeded": synthesis_pb2.WEBHOOK_EVENT_JOB_SUCCEEDED,
    "job.failed": synthesis_pb2.WEBHOOK_EVENT_JOB_FAILED,
}
WEBHOOK_EVENT_NAMES: dict[int, WebhookEventName] = {code: name for name, code in WEBHOOK_EVENT_CODES.items()}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def when(stamp) -> datetime | None:
    return stamp.ToDatetime().astimezone() if stamp.seconds or stamp.nanos else None


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    created_at: datetime | None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, key: tenancy_pb2.ApiKey) -> ApiKeyOut:
        return cls(
            id=key.key_id,
            prefix=key.prefix,
            name=key.name,
            created_at=when(key.create_time),
            last_used_at=when(key.last_used_time),
            revoked_at=when(key.revoke_time),
        )


class NewApiKeyOut(ApiKeyOut):
    api_key: str = Field(description="The secret. Shown once; store it now.")


class TenantOut(BaseModel):
    id: str
    name: str
    tier: Tier
    created_at: datetime | None
    billing_state: BillingStateName = Field(
        default="active", description="suspended: the tenant's API keys answer 402 until the open invoice is paid"
    )
    billing_reason: str = Field(default="", description="why the tenant is past due or suspended")

    @classmethod
    def of(cls, tenant: tenancy_pb2.Tenant) -> TenantOut:
        return cls(
            id=tenant.tenant_id,
            name=tenant.name,
            tier=TIER_NAMES[tenant.tier],
            created_at=when(tenant.create_time),
            # UNSPECIFIED (a tenancy older than billing states): nothing was ever held against the tenant.
            billing_state=cast(BillingStateName, BILLING_STATE_NAMES.get(tenant.billing_state, "active")),
            billing_reason=tenant.billing_reason,
        )


class LimitsOut(BaseModel):
    characters_per_month: int = Field(description="-1 means unlimited")
    voice_profiles: int
    concurrent_jobs: int
    formats: list[str]

    @classmethod
    def of(cls, limits: tenancy_pb2.TierLimits) -> LimitsOut:
        return cls(
            characters_per_month=limits.characters_per_month,
            voice_profiles=limits.voice_profiles,
            concurrent_jobs=limits.concurrent_jobs,
            formats=[FORMAT_NAMES[f] for f in limits.formats],
        )


class UsageOut(BaseModel):
    period: str
    characters_used: int
    characters_reserved: int
    voice_profiles_used: int
    jobs_running: int
    resets_at: datetime | None


class MeOut(BaseModel):
    tenant: TenantOut
    limits: LimitsOut
    usage: UsageOut
    api_key_id: str


class CreateTenantIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = "free"


class ChangeTierIn(Strict):
    tier: Tier


class CreateTenantOut(BaseModel):
    tenant: TenantOut
    api_key: NewApiKeyOut


class CreateApiKeyIn(Strict):
    name: str = Field(default="", max_length=200)


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_page_token: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime | None
    tenant_id: str


VoiceStatus = Literal["processing", "ready", "rejected", "disabled", "unspecified"]
VOICE_STATUS: dict[int, VoiceStatus] = {0: "unspecified", 1: "processing", 2: "ready", 3: "rejected", 4: "disabled"}
ConsentKind = Literal["spoken", "written", "unspecified"]
CONSENT_KINDS: dict[int, ConsentKind] = {0: "unspecified", 1: "spoken", 2: "written"}
PROHIBITED_USES: dict[str, embedding_pb2.ProhibitedUse] = {
    "fraud_impersonation": embedding_pb2.PROHIBITED_USE_FRAUD_IMPERSONATION,
    "non_consensual_content": embedding_pb2.PROHIBITED_USE_NON_CONSENSUAL_CONTENT,
    "political_manipulation": embedding_pb2.PROHIBITED_USE_POLITICAL_MANIPULATION,
    "harassment_defamation": embedding_pb2.PROHIBITED_USE_HARASSMENT_DEFAMATION,
    "undisclosed_deepfake": embedding_pb2.PROHIBITED_USE_UNDISCLOSED_DEEPFAKE,
}
PROHIBITED_NAMES = {v: k for k, v in PROHIBITED_USES.items()}


class VoiceOut(BaseModel):
    id: str
    name: str
    status: VoiceStatus
    status_reason: str | None = None
    status_detail: str | None = None
    progress: float
    speech_seconds: float
    has_active_consent: bool
    encoder: str | None = None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, voice) -> VoiceOut:
        return cls(
            id=voice.voice_id,
            name=voice.name,
            status=VOICE_STATUS[voice.status],
            status_reason=voice.status_reason or None,
            status_detail=voice.status_detail or None,
            progress=voice.progress,
            speech_seconds=round(voice.speech_seconds, 2),
            has_active_consent=voice.has_active_consent,
            encoder=voice.encoder or None,
            created_at=when(voice.create_time),
            updated_at=when(voice.update_time),
        )


class VoiceList(BaseModel):
    items: list[VoiceOut]
    next_page_token: str | None = None


class VerifyOut(BaseModel):
    score: float
    threshold: float
    same_speaker: bool


class ChallengeIn(Strict):
    language: Literal["th", "en"] | None = None


class ChallengeOut(BaseModel):
    challenge_id: str
    statement: str
    phrase: str
    expires_at: datetime | None


class ConsentOut(BaseModel):
    id: str
    voice_id: str
    kind: ConsentKind
    owner_name: str
    purpose: str
    expires_at: datetime | None
    prohibited_uses_acknowledged: list[str]
    authorized_tenant_ids: list[str]
    evidence_sha256: str
    speaker_score: float | None
    phrase_verified: bool
    created_at: datetime | None
    revoked_at: datetime | None
    owner_token: str | None = Field(
        None,
        description="The voice owner's private link token (tvo_…), in the answer that recorded the consent "
        "only (null elsewhere): give it, or owner_url, to the person whose voice it is. It is never shown "
        "again; POST /v1/voices/{voice_id}/consent/owner-link issues a new one.",
    )
    owner_url: str | None = Field(
        None, description="The owner's page for owner_token: <public URL>/console/owner/<token> (null with it)"
    )

    @classmethod
    def of(cls, consent, owner_token: str = "", public_url: str = "") -> ConsentOut:
        """`owner_token`: the new consent's link, for the answer that recorded it only."""
        return cls(
            id=consent.consent_id,
            voice_id=consent.voice_id,
            kind=CONSENT_KINDS[consent.kind],
            owner_name=consent.details.owner_name,
            purpose=consent.details.purpose,
            expires_at=when(consent.details.expire_time),
            prohibited_uses_acknowledged=[
                PROHIBITED_NAMES.get(u, str(u)) for u in consent.details.prohibited_uses_acknowledged
            ],
            authorized_tenant_ids=list(consent.details.authorized_tenant_ids),
            evidence_sha256=consent.evidence_sha256,
            speaker_score=consent.speaker_score or None,
            phrase_verified=consent.phrase_verified,
            created_at=when(consent.create_time),
            revoked_at=when(consent.revoke_time),
            owner_token=owner_token or None,
            owner_url=owner_url(public_url, owner_token) if owner_token else None,
        )


def owner_url(public_url: str, token: str) -> str:
    """The voice owner's page in the console (console/ serves /console/owner/<token>)."""
    return f"{public_url.rstrip('/')}/console/owner/{token}"


class OwnerLinkOut(BaseModel):
    owner_token: str = Field(description="The new token (tvo_…); the previous one no longer works. Shown once.")
    owner_url: str = Field(description="<public URL>/console/owner/<token>: the page to give the voice's owner")


OwnerConsentStatus = Literal["active", "revoked", "expired"]
OWNER_CONSENT_STATUS: dict[int, OwnerConsentStatus] = {
    embedding_pb2.CONSENT_STATUS_ACTIVE: "active",
    embedding_pb2.CONSENT_STATUS_REVOKED: "revoked",
    embedding_pb2.CONSENT_STATUS_EXPIRED: "expired",
}


class MonthlyGenerationsOut(BaseModel):
    month: str = Field(description="a calendar month (UTC), YYYY-MM")
    requests: int = Field(description="generations made with the voice: speech requests, streamed ones and jobs")
    characters: int
    audio_seconds: float


class OwnerViewOut(BaseModel):
    """What the voice's owner sees through the owner link."""

    voice_id: str
    voice_name: str
    owner_name: str
    tenant_name: str = Field(description="who uses the voice")
    purpose: str
    status: OwnerConsentStatus = Field(
        description="revoked: by the tenant or the owner, superseded by a newer consent, or the voice deleted"
    )
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    generations: list[MonthlyGenerationsOut] = Field(
        description="the last 12 calendar months (UTC), oldest first, the current month last; zeros where none"
    )

    @classmethod
    def of(cls, view: embedding_pb2.OwnerConsentView) -> OwnerViewOut:
        granted, expires = when(view.grant_time), when(view.expire_time)
        assert granted is not None and expires is not None  # every consent has both
        return cls(
            voice_id=view.voice_id,
            voice_name=view.voice_name,
            owner_name=view.owner_name,
            tenant_name=view.tenant_name,
            purpose=view.purpose,
            status=OWNER_CONSENT_STATUS[view.status],
            granted_at=granted,
            expires_at=expires,
            revoked_at=when(view.revoke_time),
            generations=[
                MonthlyGenerationsOut(
                    month=m.month,
                    requests=m.requests,
                    characters=m.characters,
                    audio_seconds=round(m.audio_seconds, 3),
                )
                for m in view.generations
            ],
        )


class FieldError(BaseModel):
    location: list[str] = Field(description='where the value is, e.g. ["body", "text"] or ["query", "page_size"]')
    message: str
    type: str


class Problem(BaseModel):
    """An error answer (RFC 9457, application/problem+json); members beyond these may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the kind of problem: https://timbre.dev/problems/<reason>")
    title: str
    status: int = Field(ge=400, le=599, description="the HTTP status, repeated")
    detail: str = ""
    reason: str | None = Field(None, description="machine-readable, e.g. QUOTA_EXCEEDED, CONSENT_REQUIRED")
    instance: str | None = Field(None, description="the request's path")
    request_id: str | None = Field(None, description="the X-Request-ID of the request, for support")
    errors: list[FieldError] | None = Field(None, description="each invalid field (status 400 and 422)")
    metadata: dict[str, str] | None = Field(None, description="details of the reason, e.g. the limit hit")
