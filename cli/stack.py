"""`timbre stack up|down|status` (what `make up|down|status` run)."""

from __future__ import annotations

import click


@click.group()
def stack() -> None:
    """The local stack on 127.0.0.1."""


@stack.command()
@click.option("--with-s3", is_flag=True, help="Also start the S3-compatible server (moto).")
@click.option("--infra-only", is_flag=True, help="Only PostgreSQL, Kafka, migrations and topics.")
def up(with_s3: bool, infra_only: bool) -> None:
    """Start (or keep) everything; idempotent."""
    from devstack import stack as s

    if infra_only:
        s.infra_up(with_s3)
    else:
        s.up(with_s3)


@stack.command()
def down() -> None:
    """Stop exactly what `up` started."""
    from devstack import stack as s

    s.down()


@stack.command()
def status() -> None:
    """What runs, where, and where its log is."""
    from devstack import stack as s

    click.echo(f"{'component':<12} {'pid':<8} {'address':<34} log")
    for name, pid, where, log in s.status():
        click.echo(f"{name:<12} {pid:<8} {where:<34} {log}")
