"""`timbre` — stack control, operator commands, the voice engine and watermark tools.

Each subcommand's module is imported only when that subcommand runs (click's "lazily loading
subcommands"): `timbre --help` or `timbre watermark detect` must not pay for torch, scipy and the
engine that `timbre engine` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use.

    `lazy`: name -> ("module:attribute", short help). The short help is given here so that listing the
    subcommands (`timbre --help`) imports none of them; tests/unit/test_cli_startup.py checks it
    against each command's own docstring."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        location, _ = self.lazy[cmd_name]
        module_name, attribute = location.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{location} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's own listing (same truncation), with the lazy commands' help taken from `lazy`."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy:
                # A bare Command carrying only the help text: click's own truncation, nothing imported.
                rows.append((name, click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)))
            elif (command := self.commands.get(name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


COMMANDS = {
    "stack": ("cli.stack:stack", "The local stack on 127.0.0.1."),
    "admin": ("cli.admin:admin", "Operator commands (need TIMBRE_OPERATOR_SECRET)."),
    "demo": ("cli.demo:demo", "Start the stack and run the main job."),
    "migrate": ("cli.migrate:migrate", "Migrate every schema and create the Kafka topics (deployments run it first)."),
    "models": ("cli.models:models", "The model store (MODEL_PATH, default ~/.cache/timbre/models)."),
    "watermark": ("cli.watermark:watermark", "Embed or detect Timbre's watermark in local files."),
    "engine": ("cli.engine:engine", "Clone a voice from reference audio and speak text with it, locally."),
    "keys": ("cli.keys:keys", "The voices' data keys: rewrap them under a new key-encryption key."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
def cli() -> None:
    """Timbre voice platform."""


if __name__ == "__main__":
    cli()
