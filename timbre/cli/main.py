"""`timbre` — stack control, operator commands, and (later) engine and watermark tools."""

from __future__ import annotations

import click

from timbre.cli.admin import admin
from timbre.cli.demo import demo
from timbre.cli.models import models
from timbre.cli.stack import stack
from timbre.cli.watermark import watermark


@click.group()
def cli() -> None:
    """Timbre voice platform."""


cli.add_command(stack)
cli.add_command(admin)
cli.add_command(demo)
cli.add_command(models)
cli.add_command(watermark)


if __name__ == "__main__":
    cli()
