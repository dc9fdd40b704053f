"""Operator commands: `timbre admin tenant create --name N --tier pro`.

grpc, the settings and the service stubs are imported inside the commands that call a service, so
`timbre admin … --help` starts at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cli.client import fail, operator_channel
from kit.grpc.convert import TIER_CODES

if TYPE_CHECKING:
    from kit.config import KitSettings
    from timbre.v1 import embedding_pb2


@click.group()
def admin() -> None:
    """Operator commands (need TIMBRE_OPERATOR_SECRET)."""


@admin.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.option("--name", required=True)
@click.option("--tier", type=click.Choice(sorted(TIER_CODES)), default="free", show_default=True)
def create_tenant(name: str, tier: str) -> None:
    """Create a tenant; prints its id and first API key (shown once) as JSON."""
    import grpc

    from kit.config import KitSettings
    from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

    settings = KitSettings()
    try:
        with operator_channel(settings, settings.tenancy_addr) as channel:
            reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
                tenancy_pb2.CreateTenantRequest(name=name, tier=TIER_CODES[tier])
            )
    except grpc.RpcError as error:
        raise fail(error) from error
    click.echo(
        json.dumps(
            {
                "tenant_id": reply.tenant.tenant_id,
                "name": reply.tenant.name,
                "tier": tier,
                "api_key_id": reply.api_key.key_id,
                "api_key": reply.api_key_secret,
            }
        )
    )


@tenant.command("set-tier")
@click.option("--tenant", "tenant_id", required=True, help="the tenant's id")
@click.option("--tier", type=click.Choice(sorted(TIER_CODES)), required=True)
def set_tier(tenant_id: str, tier: str) -> None:
    """Move a tenant to another tier (billing updates its subscription); prints the tenant as JSON."""
    import grpc

    from kit.config import KitSettings
    from timbre.v1 import common_pb2, tenancy_pb2, tenancy_pb2_grpc

    settings = KitSettings()
    try:
        with operator_channel(settings, settings.tenancy_addr) as channel:
            reply = tenancy_pb2_grpc.TenancyServiceStub(channel).ChangeTier(
                tenancy_pb2.ChangeTierRequest(tenant_id=tenant_id, tier=TIER_CODES[tier])
            )
    except grpc.RpcError as error:
        raise fail(error) from error
    billing_state = common_pb2.BillingState.Name(reply.tenant.billing_state)
    click.echo(
        json.dumps(
            {
                "tenant_id": reply.tenant.tenant_id,
                "name": reply.tenant.name,
                "tier": tier,
                "billing_state": billing_state.removeprefix("BILLING_STATE_").lower(),
                "billing_reason": reply.tenant.billing_reason,
            }
        )
    )


@admin.group()
def consent() -> None:
    """Consents."""


def grant_written_consent(
    settings: KitSettings, voice_id: str, document_sha256: str, expires: datetime, owner: str, purpose: str
) -> embedding_pb2.GrantWrittenConsentResponse:
    """GrantWrittenConsent as the operator (shared with `timbre demo`): the consent, and the voice
    owner's link token (shown only in this answer)."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from timbre.v1 import embedding_pb2, embedding_pb2_grpc

    expire_time = Timestamp()
    expire_time.FromDatetime(expires)
    details = embedding_pb2.ConsentDetails(
        owner_name=owner,
        purpose=purpose,
        expire_time=expire_time,
        # The signed form lists every prohibited use; the operator records that it was acknowledged.
        prohibited_uses_acknowledged=[v.name for v in embedding_pb2.ProhibitedUse.DESCRIPTOR.values if v.number],
    )
    with operator_channel(settings, settings.embedding_addr) as channel:
        return embedding_pb2_grpc.EmbeddingServiceStub(channel).GrantWrittenConsent(
            embedding_pb2.GrantWrittenConsentRequest(
                voice_id=voice_id, document_sha256=document_sha256, details=details
            )
        )


@consent.command("grant")
@click.option("--voice", "voice_id", required=True, help="the voice the signed form is for")
@click.option("--document-sha256", required=True, help="SHA-256 (hex) of the signed consent form")
@click.option("--expires", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD (UTC)")
@click.option("--owner", default="voice owner (written form)", show_default=True)
@click.option("--purpose", default="as stated in the signed consent form", show_default=True)
def grant_consent(voice_id: str, document_sha256: str, expires: datetime, owner: str, purpose: str) -> None:
    """Record a digitally signed written consent for a voice; prints the consent as JSON, with the
    voice owner's private link token (shown this once: the owner's page is <gateway>/console/owner/<token>)."""
    import grpc

    from kit.config import KitSettings

    try:
        granted = grant_written_consent(
            KitSettings(), voice_id, document_sha256.lower(), expires.replace(tzinfo=UTC), owner, purpose
        )
    except grpc.RpcError as error:
        raise fail(error) from error
    click.echo(
        json.dumps(
            {
                "consent_id": granted.consent.consent_id,
                "voice_id": voice_id,
                "kind": "written",
                "expires": expires.date().isoformat(),
                "owner_token": granted.owner_token,
                "owner_page": f"/console/owner/{granted.owner_token}",
            }
        )
    )


@admin.command("cost-report")
@click.option("--period", default="", help="YYYY-MM (UTC); default: the current month")
@click.option("--json", "as_json", is_flag=True, help="the whole report as JSON")
def cost_report(period: str, as_json: bool) -> None:
    """Cost per request, per 1,000 characters and per audio minute from measured compute, per tenant,
    next to each tenant's revenue (docs/cost.md)."""
    import grpc

    from cli.cost_report import cost_report_dict, cost_report_table
    from kit.config import KitSettings
    from timbre.v1 import billing_pb2, billing_pb2_grpc

    settings = KitSettings()
    try:
        with operator_channel(settings, settings.billing_addr) as channel:
            reply = billing_pb2_grpc.BillingServiceStub(channel).GetCostReport(
                billing_pb2.GetCostReportRequest(period=period)
            )
    except grpc.RpcError as error:
        raise fail(error) from error
    click.echo(json.dumps(cost_report_dict(reply), indent=2) if as_json else cost_report_table(reply))


@admin.group()
def billing() -> None:
    """Stripe reporting: dead letters and their replay."""


def _billing_call(method: str, request):
    import grpc

    from kit.config import KitSettings
    from timbre.v1 import billing_pb2_grpc

    settings = KitSettings()
    try:
        with operator_channel(settings, settings.billing_addr) as channel:
            return getattr(billing_pb2_grpc.BillingServiceStub(channel), method)(request)
    except grpc.RpcError as error:
        raise fail(error) from error


@billing.command("dead-letters")
@click.option("--limit", default=100, show_default=True)
def billing_dead_letters(limit: int) -> None:
    """Stripe calls refused for good (4xx), one JSON object per line, with Stripe's reason."""
    from google.protobuf.json_format import MessageToDict

    from timbre.v1 import billing_pb2, common_pb2

    token = ""
    shown = 0
    while shown < limit:
        page = common_pb2.PageRequest(page_size=min(100, limit - shown), page_token=token)
        reply = _billing_call("ListBillingDeadLetters", billing_pb2.ListBillingDeadLettersRequest(page=page))
        for letter in reply.dead_letters:
            click.echo(json.dumps(MessageToDict(letter, preserving_proto_field_name=True)))
            shown += 1
        token = reply.page.next_page_token
        if not token:
            break


@billing.command("replay")
@click.argument("identifiers", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="every dead letter")
def billing_replay(identifiers: tuple[str, ...], replay_all: bool) -> None:
    """Send dead-lettered Stripe calls again (after the cause is fixed) under their original identifiers,
    so Stripe still bills each once. Name identifiers, or --all."""
    from timbre.v1 import billing_pb2

    if not identifiers and not replay_all:
        raise click.UsageError("name the dead letters' identifiers, or pass --all")
    reply = _billing_call(
        "ReplayBillingDeadLetters", billing_pb2.ReplayBillingDeadLettersRequest(identifiers=identifiers)
    )
    click.echo(json.dumps({"requeued": reply.requeued}))
