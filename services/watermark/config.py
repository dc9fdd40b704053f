"""Watermark settings (environment prefix TIMBRE_)."""

from __future__ import annotations

from pydantic import SecretStr

from kit.config import ServiceSettings
from kit.errors import FailedPrecondition


class WatermarkSettings(ServiceSettings):
    service_name: str = "watermark"
    # One secret per deployment (hex, ≥ 16 bytes); `make up` writes a random one to .run/secrets.env.
    watermark_key: SecretStr | None = None
    # Mark strength in dB (see bench/watermark_robustness.py for the quality/robustness trade-off).
    watermark_strength_db: float = 2.0

    def key_bytes(self) -> bytes:
        if self.watermark_key is None:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY is not set (hex, at least 16 bytes)")
        try:
            key = bytes.fromhex(self.watermark_key.get_secret_value())
        except ValueError as exc:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY must be hex") from exc
        if len(key) < 16:
            raise FailedPrecondition("TIMBRE_WATERMARK_KEY must hold at least 16 bytes")
        return key
