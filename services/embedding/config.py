"""Embedding settings (environment prefix TIMBRE_)."""

from __future__ import annotations

import json
from pathlib import Path

from kit.config import ServiceSettings

CALIBRATION = Path(__file__).parent / "calibration"


def calibration(encoder: str) -> dict:
    """What bench/calibrate_threshold.py measured for the encoder (written with its data)."""
    path = CALIBRATION / f"{encoder}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no calibration for encoder {encoder!r}: run python -m bench.calibrate_threshold --encoder {encoder}"
        )
    return json.loads(path.read_text())


class EmbeddingSettings(ServiceSettings):
    service_name: str = "embedding"
    encoder: str = "ecapa"
    # None: calibrated values (services/embedding/calibration/<encoder>.json). Duplicate blocking uses
    # the threshold at a false-match rate ≤ 0.1%; verifying a short recording (consent, VerifySpeaker)
    # uses the equal-error threshold, because an 8-second statement scores lower than a full enrollment.
    duplicate_threshold: float | None = None
    verify_threshold: float | None = None
    challenge_ttl_seconds: int = 900
    # True: a voice is "ready" only when the synthesis service has built it (VoiceReady); False: as soon
    # as it is embedded (a deployment, or a test, without synthesis workers).
    voices_built_by_synthesis: bool = True
    torch_threads: int = 1
    index_ivf_threshold: int = 200_000
    index_nprobe: int = 24

    def thresholds(self) -> tuple[float, float]:
        """(duplicate, verify)."""
        measured = calibration(self.encoder)
        duplicate = self.duplicate_threshold if self.duplicate_threshold is not None else measured["threshold"]
        verify = self.verify_threshold if self.verify_threshold is not None else measured["eer_threshold"]
        return float(duplicate), float(verify)
