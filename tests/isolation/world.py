"""The fixture world: tenant A owns one of everything that has an id, live and deleted; tenant B owns
nothing of A's and tries A's ids. Built through the public APIs, as cheaply as the stack allows (one
voice built by synthesis, one short utterance, one short job)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from cli import samples
from kit.grpc.client import open_channel
from tests.integration.conftest import bearer
from tests.integration.enrollment_helpers import speech, upload
from tests.isolation.stack import Stack
from timbre.v1 import (
    billing_pb2,
    billing_pb2_grpc,
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    synthesis_pb2,
    synthesis_pb2_grpc,
    tenancy_pb2,
    tenancy_pb2_grpc,
    watermark_pb2,
    watermark_pb2_grpc,
)

SPOKEN = "Hello from Timbre."  # the generation: short, so it costs a second of CPU
JOB_TEXT = "A short job."
JOB_KEY = "iso-job-1"  # A's idempotency key: B reusing it must not reach A's job


@dataclass
class Tenant:
    tenant_id: str
    api_key: str  # the secret
    key_id: str
    issue: Callable[[str], str]

    @property
    def token(self) -> str:
        """A fresh access token (the world outlives a tenant token's five minutes)."""
        return self.issue(self.api_key)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Ids:
    """One tenant's ids by kind; `kind` names match the request fields and path parameters."""

    tenant_id: str
    voice_id: str
    consent_id: str
    challenge_id: str
    job_id: str
    generation_id: int
    webhook_id: str
    key_id: str
    reservation_id: str
    idempotency_key: str = JOB_KEY


@dataclass
class Deleted:
    """Ids of A's objects that are gone: a deleted voice (its consent revoked with it), a deleted
    webhook, a revoked API key (revoked keys stay listed, but their secret no longer authenticates)."""

    voice_id: str
    webhook_id: str
    key_id: str
    key_secret: str


@dataclass
class Stubs:
    tenancy: tenancy_pb2_grpc.TenancyServiceStub
    embedding: embedding_pb2_grpc.EmbeddingServiceStub
    synthesis: synthesis_pb2_grpc.SynthesisServiceStub
    watermark: watermark_pb2_grpc.WatermarkServiceStub
    billing: billing_pb2_grpc.BillingServiceStub
    analytics: billing_pb2_grpc.UsageAnalyticsServiceStub
    channels: list[grpc.Channel] = field(default_factory=list)

    def by_service(self, full_name: str):
        return {
            "timbre.v1.TenancyService": self.tenancy,
            "timbre.v1.EmbeddingService": self.embedding,
            "timbre.v1.SynthesisService": self.synthesis,
            "timbre.v1.WatermarkService": self.watermark,
            "timbre.v1.BillingService": self.billing,
            "timbre.v1.UsageAnalyticsService": self.analytics,
        }[full_name]

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def connect(stack: Stack) -> Stubs:
    channels = {name: open_channel(address, default_timeout=60) for name, address in stack.addresses.items()}
    return Stubs(
        tenancy=tenancy_pb2_grpc.TenancyServiceStub(channels["tenancy"]),
        embedding=embedding_pb2_grpc.EmbeddingServiceStub(channels["embedding"]),
        synthesis=synthesis_pb2_grpc.SynthesisServiceStub(channels["synthesis"]),
        watermark=watermark_pb2_grpc.WatermarkServiceStub(channels["watermark"]),
        billing=billing_pb2_grpc.BillingServiceStub(channels["billing"]),
        analytics=billing_pb2_grpc.UsageAnalyticsServiceStub(channels["billing"]),
        channels=list(channels.values()),
    )


@dataclass
class World:
    stack: Stack
    stubs: Stubs
    a: Tenant
    b: Tenant
    ids: Ids  # A's live objects
    deleted: Deleted  # A's objects that are gone
    operator_token: Callable[[], str]
    service_token: Callable[[], str]
    setup_seconds: float = 0.0

    def deleted_ids(self) -> Ids:
        """A's ids with the deleted voice and webhook and the revoked key in place of the live ones (and
        a fresh idempotency key: under A's own, SubmitJob replays A's earlier job whatever the voice)."""
        return replace(
            self.ids,
            voice_id=self.deleted.voice_id,
            webhook_id=self.deleted.webhook_id,
            key_id=self.deleted.key_id,
            idempotency_key="iso-deleted",
        )

    def a_id_strings(self) -> list[str]:
        """Every id of A's, as text: none may appear in an answer to B unless B sent it."""
        values = [*vars(self.ids).values(), *vars(self.deleted).values(), self.a.key_id]
        return [str(v) for v in values if v and str(v) != self.ids.idempotency_key]


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except grpc.RpcError as error:  # not yet (e.g. consent not yet known to synthesis)
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout:.0f}s (last error: {last_error})")


def consent_details(days: int = 30) -> embedding_pb2.ConsentDetails:
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=days))
    return embedding_pb2.ConsentDetails(
        owner_name="Owner", purpose="isolation tests", expire_time=expire, prohibited_uses_acknowledged=[1, 2, 3, 4, 5]
    )


def build(stack: Stack, operator_secret: str, service_secret: str) -> World:
    started = time.monotonic()
    stubs = connect(stack)

    def issue(grant: tenancy_pb2.IssueTokenRequest) -> str:
        return stubs.tenancy.IssueToken(grant).access_token

    def operator() -> str:
        return issue(tenancy_pb2.IssueTokenRequest(operator_secret=operator_secret))

    def service() -> str:
        grant = tenancy_pb2.ServiceGrant(service_name="synthesis", secret=service_secret)
        return issue(tenancy_pb2.IssueTokenRequest(service=grant))

    def tenant(name: str) -> Tenant:
        reply = stubs.tenancy.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=f"iso-{name}-{uuid.uuid4().hex[:6]}", tier=common_pb2.TIER_PRO),
            metadata=bearer(operator()),
        )
        return Tenant(
            reply.tenant.tenant_id,
            reply.api_key_secret,
            reply.api_key.key_id,
            lambda key: issue(tenancy_pb2.IssueTokenRequest(api_key=key)),
        )

    a, b = tenant("a"), tenant("b")
    token = a.token
    meta = bearer(token)

    # Voices: one that will speak; one deleted at once (a short recording: never built).
    voice = upload(stubs.embedding, token, [("a.wav", speech("joe", 0, 1))], name="main")
    gone = upload(stubs.embedding, token, [("s.wav", samples.wav_bytes(samples.espeak("Gone soon.")))], name="gone")
    stubs.embedding.DeleteVoice(embedding_pb2.DeleteVoiceRequest(voice_id=gone.voice_id), metadata=meta)

    # Webhooks, API keys: live and gone. Only failed jobs notify: nothing is ever delivered (port 9).
    failed_only = [synthesis_pb2.WEBHOOK_EVENT_JOB_FAILED]
    hook = stubs.synthesis.CreateWebhook(
        synthesis_pb2.CreateWebhookRequest(url="http://127.0.0.1:9/a", events=failed_only), metadata=meta
    ).webhook
    dead_hook = stubs.synthesis.CreateWebhook(
        synthesis_pb2.CreateWebhookRequest(url="http://127.0.0.1:9/gone", events=failed_only), metadata=meta
    ).webhook
    stubs.synthesis.DeleteWebhook(synthesis_pb2.DeleteWebhookRequest(webhook_id=dead_hook.webhook_id), metadata=meta)
    extra = stubs.tenancy.CreateApiKey(tenancy_pb2.CreateApiKeyRequest(name="extra"), metadata=meta).api_key
    revoked = stubs.tenancy.CreateApiKey(tenancy_pb2.CreateApiKeyRequest(name="revoked"), metadata=meta)
    stubs.tenancy.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=revoked.api_key.key_id), metadata=meta)

    # A quota reservation (only services and the operator hold reservation ids).
    reservation = stubs.tenancy.ReserveQuota(
        tenancy_pb2.ReserveQuotaRequest(tenant_id=a.tenant_id, characters=1, ttl_seconds=600),
        metadata=bearer(service()),
    ).reservation_id

    # Consent (written, by the operator) and a consent challenge need the analysed voice.
    def analysed() -> bool:
        found = stubs.embedding.GetVoice(embedding_pb2.GetVoiceRequest(voice_id=voice.voice_id), metadata=meta)
        assert found.voice.status != embedding_pb2.VOICE_STATUS_REJECTED, found.voice.status_detail
        return found.voice.progress >= 0.5

    wait_for(analysed, 120, "voice analysed")
    consent = stubs.embedding.GrantWrittenConsent(
        embedding_pb2.GrantWrittenConsentRequest(
            voice_id=voice.voice_id, document_sha256="ab" * 32, details=consent_details()
        ),
        metadata=bearer(operator()),
    ).consent
    challenge = stubs.embedding.CreateConsentChallenge(
        embedding_pb2.CreateConsentChallengeRequest(voice_id=voice.voice_id, language="en"), metadata=meta
    )

    # A generation once synthesis has built the voice and knows the consent, then a short job.
    options = synthesis_pb2.SpeechOptions(language="en", format=common_pb2.AUDIO_FORMAT_WAV)

    def spoken():
        return stubs.synthesis.Synthesize(
            synthesis_pb2.SynthesizeRequest(voice_id=voice.voice_id, text=SPOKEN, options=options),
            metadata=bearer(a.token),
        )

    generation_id = int(wait_for(spoken, 240, "first speech of A's voice").generation_id)
    job = stubs.synthesis.SubmitJob(
        synthesis_pb2.SubmitJobRequest(
            voice_id=voice.voice_id, text=JOB_TEXT, options=options, idempotency_key=JOB_KEY
        ),
        metadata=bearer(a.token),
    ).job

    def job_done() -> bool:
        state = stubs.synthesis.GetJob(synthesis_pb2.GetJobRequest(job_id=job.job_id), metadata=bearer(a.token))
        assert state.job.state not in (synthesis_pb2.JOB_STATE_FAILED, synthesis_pb2.JOB_STATE_CANCELLED), state
        return state.job.state == synthesis_pb2.JOB_STATE_SUCCEEDED

    wait_for(job_done, 120, "A's job succeeded")
    # Events reach the watermark registry (provenance) and billing (usage) a moment later.
    wait_for(
        lambda: (
            stubs.watermark.GetProvenance(
                watermark_pb2.GetProvenanceRequest(generation_id=generation_id), metadata=bearer(a.token)
            ).full_record
        ),
        60,
        "provenance of A's generation",
    )
    wait_for(
        lambda: (
            stubs.analytics.QueryUsage(
                billing_pb2.QueryUsageRequest(group_by="voice"), metadata=bearer(a.token)
            ).totals.requests
            >= 2
        ),
        60,
        "A's usage in billing",
    )
    ids = Ids(
        tenant_id=a.tenant_id,
        voice_id=voice.voice_id,
        consent_id=consent.consent_id,
        challenge_id=challenge.challenge_id,
        job_id=job.job_id,
        generation_id=generation_id,
        webhook_id=hook.webhook_id,
        key_id=extra.key_id,
        reservation_id=reservation,
    )
    deleted = Deleted(
        voice_id=gone.voice_id,
        webhook_id=dead_hook.webhook_id,
        key_id=revoked.api_key.key_id,
        key_secret=revoked.api_key_secret,
    )
    return World(stack, stubs, a, b, ids, deleted, operator, service, time.monotonic() - started)
