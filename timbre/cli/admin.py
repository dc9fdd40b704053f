"""Operator commands: `timbre admin tenant create --name N --tier pro`."""

from __future__ import annotations

import json

import click
import grpc

from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from timbre.cli.client import fail, operator_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


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
    settings = KitSettings()
    try:
        with operator_channel(settings, settings.tenancy_addr) as channel:
            reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
                tenancy_pb2.CreateTenantRequest(name=name, tier=TIER_CODES[tier])
            )
    except grpc.RpcError as error:
        raise fail(error) from error
    click.echo(json.dumps({
        "tenant_id": reply.tenant.tenant_id,
        "name": reply.tenant.name,
        "tier": tier,
        "api_key_id": reply.api_key.key_id,
        "api_key": reply.api_key_secret,
    }))
