"""Operator-side gRPC access for CLI commands: an operator token from the configured secret.

grpc and the kit's gRPC edge are imported inside the functions: `timbre admin --help` needs neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import grpc

    from kit.config import KitSettings


def operator_channel(settings: KitSettings, address: str) -> grpc.Channel:
    from kit.grpc.client import open_channel
    from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

    if settings.operator_secret is None:
        raise click.ClickException("TIMBRE_OPERATOR_SECRET is not set (make up writes it to .run/secrets.env)")
    with open_channel(settings.tenancy_addr) as channel:
        token = (
            tenancy_pb2_grpc.TenancyServiceStub(channel)
            .IssueToken(tenancy_pb2.IssueTokenRequest(operator_secret=settings.operator_secret.get_secret_value()))
            .access_token
        )
    return open_channel(address, token=lambda: token)


def fail(error: grpc.RpcError) -> click.ClickException:
    from kit.grpc.status import error_info

    info = error_info(error)
    reason = f" [{info.reason}]" if info else ""
    return click.ClickException(f"{error.code().name}{reason}: {error.details()}")
