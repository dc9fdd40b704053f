"""`timbre` — stack control, operator commands, the voice engine and watermark tools."""

from __future__ import annotations

import click

from cli.admin import admin
from cli.demo import demo
from cli.engine import engine
from cli.models import models
from cli.stack import stack
from cli.watermark import watermark


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
