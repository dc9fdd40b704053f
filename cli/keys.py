"""`timbre keys`: the data keys that encrypt voices at rest (kit/crypto).

Rotating the key-encryption key (KEK): give every process the new key as TIMBRE_DATA_KEK with a new
TIMBRE_DATA_KEK_ID and the old one in TIMBRE_DATA_KEKS_RETIRED ("old-id:key"), roll them out, run
`timbre keys rotate`, and once it reports nothing remaining, drop the retired KEK.
"""

from __future__ import annotations

import json

import click


@click.group()
def keys() -> None:
    """The voices' data keys: rewrap them under a new key-encryption key."""


@keys.command()
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True, help="Keys per transaction.")
@click.option("--check", is_flag=True, help="Only count the keys not yet under the current KEK.")
def rotate(batch: int, check: bool) -> None:
    """Rewrap every voice's data key (embedding and synthesis) under the current KEK (TIMBRE_DATA_KEK_ID).

    Prints, per service, how many keys were rewrapped and how many remain under another KEK."""
    from kit.config import KitSettings
    from kit.crypto import CryptoError
    from kit.crypto.rotation import rewrap_all, stale_count
    from kit.db.engine import make_engine
    from services.embedding.storage.tables import data_keys as embedding_keys
    from services.synthesis.storage.tables import data_keys as synthesis_keys

    settings = KitSettings()
    ring = settings.kek_ring()
    engine = make_engine(settings.database_url, 2)
    report: dict[str, dict[str, int | str]] = {}
    try:
        for service, table in (("embedding", embedding_keys), ("synthesis", synthesis_keys)):
            if check:
                report[service] = {"remaining": stale_count(engine, table, ring.current_id)}
            else:
                done = rewrap_all(engine, table, ring, batch)
                report[service] = {"rewrapped": done.rewrapped, "remaining": done.remaining}
    except CryptoError as error:  # e.g. a key under a KEK that is neither current nor retired
        raise click.ClickException(f"{error} (keys rewrapped before it stay rewrapped)") from None
    finally:
        engine.dispose()
    click.echo(json.dumps({"kek_id": ring.current_id, **report}))
    if any(entry["remaining"] for entry in report.values()) and not check:
        raise click.ClickException("some keys are still under another KEK (locked meanwhile): run it again")
