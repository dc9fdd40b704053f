"""Watermark settings (environment prefix TIMBRE_); the key itself is a deployment setting (kit.config)."""

from __future__ import annotations

from kit.config import ServiceSettings


class WatermarkSettings(ServiceSettings):
    service_name: str = "watermark"
    # Mark strength in dB (see bench/watermark_robustness.py for the quality/robustness trade-off).
    watermark_strength_db: float = 1.5
