"""Pluggable speaker encoders: ECAPA-TDNN (default, 192-d) and GE2E (256-d)."""

from __future__ import annotations

from kit.models import ModelStore
from services.embedding.encoders.base import SpeakerEncoder


def load_encoder(name: str, store: ModelStore) -> SpeakerEncoder:
    if name == "ecapa":
        from services.embedding.encoders.ecapa import EcapaEncoder

        return EcapaEncoder(store.require("ecapa"))
    if name == "ge2e":
        from services.embedding.encoders.ge2e import Ge2eEncoder

        return Ge2eEncoder(store.require("ge2e"))
    raise ValueError(f"unknown speaker encoder {name!r} (ecapa, ge2e)")
