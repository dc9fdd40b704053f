"""Watermark settings (environment prefix TIMBRE_); the key and the strength are deployment settings (kit.config)."""

from __future__ import annotations

from kit.config import ServiceSettings


class WatermarkSettings(ServiceSettings):
    service_name: str = "watermark"
