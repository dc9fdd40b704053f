"""`timbre` — stack control, operator commands, the voice engine and watermark tools."""

from __future__ import annotations

import click

from timbre.cli.admin import admin
from timbre.cli.demo import demo
from timbre.cli.engine import engine
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
cli.add_command(engine)


if __name__ == "__main__":
    cli()
