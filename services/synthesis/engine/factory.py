"""Which engine a worker runs: TIMBRE_ENGINE = "embedded" (the default), "coqui:<model>" or
"f5:<model>" (an F5-TTS checkpoint placed in the store, e.g. f5:thai)."""

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
    if choice.startswith("f5:"):
        from services.synthesis.engine.f5 import F5Engine

        return F5Engine(choice.split(":", 1)[1], store)
    if choice != "embedded":
        raise InvalidArgument(
            f"unknown engine {choice!r}; use 'embedded', 'coqui:<model>' (xtts_v2, vits, tortoise, bark) "
            "or 'f5:<model>' (an F5-TTS checkpoint in MODEL_PATH/f5/<model>/, e.g. f5:thai)",
            field="engine",
        )
    from services.synthesis.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(store, device=embedded_device())


def embedded_device() -> str:
    """Where the embedded engine's vocoder runs: TIMBRE_EMBEDDED_DEVICE (cpu, cuda, cuda:1), else a GPU
    when the worker has one (the float vocoder), else the CPU (the int8 one)."""
    configured = os.environ.get("TIMBRE_EMBEDDED_DEVICE", "").strip()
    if configured:
        return configured
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
