"""`timbre engine clone|speak`: the voice engine as a local tool (no stack needed).

The engine is the embedded default unless --engine (or TIMBRE_ENGINE) names a Coqui model or an
F5-TTS checkpoint whose weights are in the model store, e.g. --engine coqui:xtts_v2 or f5:thai.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from kit.audio.codec import FORMATS, AudioDecodeError, decode, encode
from kit.errors import TimbreError
from services.synthesis.engine.interface import LANGUAGES, PITCH_RANGE, REFERENCE_RATE, SPEED_RANGE, SpeechOptions

ENGINE_OPTION = click.option(
    "--engine",
    "engine_name",
    default=None,
    envvar="TIMBRE_ENGINE",
    help="embedded (default), coqui:<model> (xtts_v2, vits, tortoise, bark) or f5:<model> (e.g. f5:thai)",
)


def _engine(name: str | None, fit: dict | None = None):
    """The named engine; `fit`: embedded-engine fit options given on the command line (None = unset)."""
    import torch

    from services.synthesis.engine.conversion import FitOptions
    from services.synthesis.engine.factory import engine_choice, make_engine

    given = {key: value for key, value in (fit or {}).items() if value is not None}
    if given and engine_choice(name) != "embedded":
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise click.ClickException(f"{flags}: options of the embedded engine, not of {engine_choice(name)}")
    torch.set_num_threads(1)  # one core per worker; more threads stall a small machine
    try:
        engine = make_engine(name)
    except TimbreError as exc:
        raise click.ClickException(exc.message) from exc
    if given:
        from services.synthesis.engine.embedded import EmbeddedEngine

        assert isinstance(engine, EmbeddedEngine)  # engine_choice(name) == "embedded", checked above
        engine.fit_options = FitOptions(**given)
    return engine


def _format(path: str) -> str:
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise click.ClickException(f"{path}: the extension picks the format; one of {', '.join(FORMATS)}")
    return suffix


@click.group()
def engine() -> None:
    """Clone a voice from reference audio and speak text with it, locally."""


@engine.command()
@click.option(
    "--reference",
    "references",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="reference speech (repeat for more files)",
)
@click.option("--transcript", default=None, help="what the references say (improves the embedded engine)")
@click.option("--out", "target", required=True, type=click.Path(dir_okay=False), help="voice artifact (.pth)")
@click.option(
    "--strength",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="embedded engine: how far the learned map moves toward the reference (default 0.5; "
    "higher is more similar and less intelligible, see docs/engine.md)",
)
@click.option(
    "--class-strength",
    type=click.FloatRange(0.0, 2.0),
    default=None,
    help="embedded engine: weight of the per-sound corrections learned from a transcribed reference "
    "(default 0.5; 0 turns them off)",
)
@click.option(
    "--hear/--no-hear",
    "hear_references",
    default=None,
    help="embedded engine: without --transcript, transcribe the references with Whisper (default: on)",
)
@ENGINE_OPTION
def clone(
    references: tuple[str, ...],
    transcript: str | None,
    target: str,
    strength: float | None,
    class_strength: float | None,
    hear_references: bool | None,
    engine_name: str | None,
) -> None:
    """Build a voice artifact from reference recordings."""
    audio = []
    for path in references:
        try:
            audio.append(decode(Path(path).read_bytes(), REFERENCE_RATE).samples)
        except AudioDecodeError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
    voice_engine = _engine(
        engine_name, {"strength": strength, "class_strength": class_strength, "hear_references": hear_references}
    )
    started = time.monotonic()
    with tqdm(total=100, desc="clone", unit="%", disable=None) as bar:

        def progress(stage: str, fraction: float) -> None:
            bar.set_postfix_str(stage)
            bar.update(max(0, round(fraction * 100) - bar.n))

        try:
            artifact = voice_engine.build_voice(audio, transcript, progress)
        except TimbreError as exc:
            raise click.ClickException(exc.message) from exc
    Path(target).write_bytes(artifact)
    built = {
        "voice": target,
        "engine": voice_engine.name,
        "bytes": len(artifact),
        "reference_seconds": round(sum(len(a) for a in audio) / REFERENCE_RATE, 2),
        "build_seconds": round(time.monotonic() - started, 2),
    }
    if voice_engine.name == "embedded":
        built["built"] = {
            key: value
            for key, value in voice_engine.describe_voice(artifact).items()
            if key in ("base_voices", "fine_structure")
        }
    click.echo(json.dumps(built))


@engine.command()
@click.option(
    "--voice",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="voice artifact from `timbre engine clone` with the embedded engine",
)
def inspect(voice: str) -> None:
    """Print what a voice artifact learned (transcript source, pairs, sound classes, pitch, pool), as JSON."""
    from services.synthesis.engine.embedded import EmbeddedEngine

    try:
        click.echo(json.dumps(EmbeddedEngine.describe_voice(Path(voice).read_bytes()), indent=2))
    except TimbreError as exc:
        raise click.ClickException(f"{voice}: {exc.message}") from exc


@engine.command()
@click.option(
    "--voice",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="voice artifact from `timbre engine clone` (without it: the base voice)",
)
@click.option("--text", required=True)
@click.option("--language", default="th", type=click.Choice(LANGUAGES), show_default=True)
@click.option("--speed", default=1.0, type=click.FloatRange(*SPEED_RANGE), show_default=True)
@click.option("--pitch", default=0.0, type=click.FloatRange(*PITCH_RANGE), show_default=True, help="semitones")
@click.option("--sample-rate", default=0, type=int, help="8000–48000 Hz (default: the engine's own)")
@click.option("--out", "target", required=True, type=click.Path(dir_okay=False), help="wav, flac, mp3, ogg or m4a")
@ENGINE_OPTION
def speak(
    voice: str | None,
    text: str,
    language: str,
    speed: float,
    pitch: float,
    sample_rate: int,
    target: str,
    engine_name: str | None,
) -> None:
    """Speak text to a file, sentence by sentence."""
    fmt = _format(target)
    voice_engine = _engine(engine_name)
    options = SpeechOptions(language=language, speed=speed, pitch=pitch, sample_rate=sample_rate)
    artifact = Path(voice).read_bytes() if voice else None
    started = time.monotonic()
    chunks: list[np.ndarray] = []
    first_chunk = 0.0
    try:
        for chunk in tqdm(voice_engine.synthesize(text, artifact, options), desc="speak", unit="chunk", disable=None):
            first_chunk = first_chunk or time.monotonic() - started
            chunks.append(chunk)
    except TimbreError as exc:
        raise click.ClickException(exc.message) from exc
    rate = voice_engine.output_rate(options)
    audio = np.concatenate(chunks)
    Path(target).write_bytes(encode(audio, rate, fmt))
    click.echo(
        json.dumps(
            {
                "out": target,
                "engine": voice_engine.name,
                "sample_rate": rate,
                "audio_seconds": round(len(audio) / rate, 2),
                "first_chunk_ms": round(1000 * first_chunk, 1),
                "seconds": round(time.monotonic() - started, 2),
            }
        )
    )
