"""Which engine a worker runs: TIMBRE_ENGINE = "embedded" (the default) or "coqui:<model>"."""

from __future__ import annotations

import os

from kit.errors import InvalidArgument
from kit.models import ModelStore
from services.synthesis.engine.interface import VoiceEngine


def engine_choice(choice: str | None = None) -> str:
    """The engine asked for: the argument, else TIMBRE_ENGINE, else the embedded default."""
    return choice or os.environ.get("TIMBRE_ENGINE", "embedded")


def make_engine(choice: str | None = None, store: ModelStore | None = None) -> VoiceEngine:
    choice = engine_choice(choice)
    if choice.startswith("coqui:"):
        from services.synthesis.engine.coqui import CoquiEngine

        return CoquiEngine(choice.split(":", 1)[1], store)
    if choice != "embedded":
        raise InvalidArgument(
            f"unknown engine {choice!r}; use 'embedded' or 'coqui:<model>' (xtts_v2, vits, tortoise, bark)",
            field="engine",
        )
    from services.synthesis.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(store)
