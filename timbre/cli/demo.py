"""`timbre demo` — the main job on the embedded default, end to end through the public edges.

Today: stack up → a tenant and API key (operator CLI path) → GET /v1/me through the gateway.
Enrollment, speech and watermark verification join as their issues land.
"""

from __future__ import annotations

import json

import click
import httpx

from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from timbre.cli.client import operator_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

GATEWAY = "http://127.0.0.1:8080"


def _step(number: int, text: str) -> None:
    click.secho(f"[{number}] {text}", bold=True)


@click.command()
@click.option("--tier", type=click.Choice(sorted(TIER_CODES)), default="pro", show_default=True)
@click.option("--gateway", default=GATEWAY, show_default=True)
def demo(tier: str, gateway: str) -> None:
    """Start the stack and run the main job."""
    from timbre.stack import stack

    _step(1, "stack up")
    stack.up()
    settings = KitSettings()  # reads the secrets `stack up` wrote

    _step(2, f"create a {tier} tenant and its first API key (operator)")
    with operator_channel(settings, settings.tenancy_addr) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="Demo Studio", tier=TIER_CODES[tier])
        )
    api_key = reply.api_key_secret
    click.echo(f"    tenant {reply.tenant.tenant_id}, key {reply.api_key.prefix}…")

    _step(3, "GET /v1/me with the API key")
    with httpx.Client(base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {api_key}"}) as http:
        me = http.get("/v1/me")
        if me.status_code != 200:
            raise click.ClickException(f"/v1/me answered {me.status_code}: {me.text}")
        click.echo(json.dumps(me.json(), indent=2))
    click.secho("demo: done", fg="green")
