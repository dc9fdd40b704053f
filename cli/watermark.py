"""`timbre watermark embed|detect` with the deployment's key (TIMBRE_WATERMARK_KEY).

Needs numpy, scipy.fft and PyAV only — never torch (tests/unit/test_cli_startup.py); the audio and
watermark modules are imported when a command runs, not for `--help`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.errors import TimbreError

if TYPE_CHECKING:
    from kit.audio.codec import Clip
    from kit.watermark import Watermarker


def _marker() -> Watermarker:
    from kit.watermark import Watermarker
    from services.watermark.config import WatermarkSettings

    settings = WatermarkSettings()
    try:
        return Watermarker(settings.watermark_key_bytes(), settings.watermark_strength_db)
    except TimbreError as exc:
        raise click.ClickException(exc.message) from exc


def _read(path: str) -> Clip:
    from kit.audio.codec import AudioDecodeError, decode

    try:
        return decode(Path(path).read_bytes(), target_rate=None, max_seconds=3600)
    except AudioDecodeError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


@click.group()
def watermark() -> None:
    """Embed or detect Timbre's watermark in local files."""


@watermark.command()
@click.option("--in", "source", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "target", required=True, type=click.Path(dir_okay=False))
@click.option("--generation-id", required=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--strength", type=click.FloatRange(0.5, 6.0), default=None, help="dB (default from config)")
def embed(source: str, target: str, generation_id: int, strength: float | None) -> None:
    """Mark a file (written as WAV at the input's sample rate)."""
    from kit.audio.codec import encode

    clip = _read(source)
    if not 16000 <= clip.sample_rate <= 48000:
        raise click.ClickException(f"sample rate {clip.sample_rate} Hz: the mark needs 16–48 kHz")
    marked = _marker().embed(clip.samples, clip.sample_rate, generation_id, strength)
    Path(target).write_bytes(encode(marked, clip.sample_rate, "wav"))


@watermark.command()
@click.option("--in", "source", required=True, type=click.Path(exists=True, dir_okay=False))
def detect(source: str) -> None:
    """Print {"watermarked", "confidence", "generation_id", "tempo", "pitch_semitones"} as one JSON object."""
    clip = _read(source)
    found = _marker().detect(clip.samples, clip.sample_rate)
    click.echo(
        json.dumps(
            {
                "watermarked": found.watermarked,
                "confidence": round(found.confidence, 4),
                "generation_id": found.generation_id,
                "tempo": round(found.tempo, 3) if found.watermarked else None,
                "pitch_semitones": round(found.pitch_semitones, 2) if found.watermarked else None,
            }
        )
    )
