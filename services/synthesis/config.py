"""Synthesis settings (environment prefix TIMBRE_)."""

from __future__ import annotations

from typing import Literal

from kit.config import ServiceSettings
from kit.contract_codes import TIER_NAMES


class SynthesisSettings(ServiceSettings):
    service_name: str = "synthesis"
    # "embedded" (CPU, offline) or "coqui:<model>" with the model's files in the store (docs/models.md).
    engine: str = "embedded"
    torch_threads: int = 1
    # The kind of machine usage is priced at in billing's cost report ("cpu", "gpu-nvidia-a10g", ...).
    # Empty: "cpu", or "gpu-<device name>" when the engine computes on CUDA (engine/worker_class.py).
    worker_class: str = ""
    # Streamed audio leaves in marked segments of whole mark slots (64 ms), at least this long: shorter
    # segments give an earlier first byte but a louder mark (fewer cells to cancel the speech against).
    stream_segment_seconds: float = 1.472
    # Loaded voices kept in memory per worker (TIMBRE_VOICE_CACHE_SIZE): loading one costs more than a
    # short sentence's synthesis.
    voice_cache_size: int = 32
    # A job whose worker died is picked up again when its event is redelivered; after this many
    # starts it fails for good.
    job_max_attempts: int = 3
    # Tiers whose jobs go to the dedicated pool's topic (comma-separated, e.g. "enterprise"); empty: none.
    dedicated_tiers: str = ""
    # Which jobs a worker runs: "shared" (every other tier's, and voice builds), "dedicated" (the
    # dedicated tiers' only), "all" (both: one process serves everything, as the local stack does).
    job_pool: Literal["all", "shared", "dedicated"] = "all"
    # The longest a job (100000 characters: ~1.7 h of speech, ~30 min on one CPU thread) or a voice
    # build may run; the consumer group waits this long before it gives the work to another worker.
    job_max_seconds: int = 7200
    build_max_seconds: int = 900
    quota_ttl_seconds: int = 1800
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 2.0
    # An endpoint is disabled after this many failed deliveries in a row.
    webhook_disable_after: int = 5
    webhook_poll_seconds: float = 0.5

    def dedicated_tier_names(self) -> frozenset[str]:
        names = frozenset(t.strip() for t in self.dedicated_tiers.split(",") if t.strip())
        unknown = names - set(TIER_NAMES.values())
        if unknown:
            raise ValueError(f"TIMBRE_DEDICATED_TIERS names unknown tiers: {', '.join(sorted(unknown))}")
        return names
