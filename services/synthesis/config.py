"""Synthesis settings (environment prefix TIMBRE_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kit.config import ServiceSettings
from kit.contract_codes import TIER_NAMES


class SynthesisSettings(ServiceSettings):
    service_name: str = "synthesis"
    # "embedded" (CPU, offline), "coqui:<model>" or "f5:<model>" with the model's files in the store (docs/models.md).
    engine: str = "embedded"
    torch_threads: int = 1
    # The kind of machine usage is priced at in billing's cost report ("cpu", "gpu-nvidia-a10g", ...).
    # Empty: "cpu", or "gpu-<device name>" when the engine computes on CUDA (engine/worker_class.py).
    worker_class: str = ""
    # Streamed audio leaves in marked segments of whole mark slots (64 ms), at least this long: shorter
    # segments give an earlier first byte but a louder mark (fewer cells to cancel the speech against).
    stream_segment_seconds: float = 1.472
    # Speech requests (unary and streamed) synthesizing at once; more wait, authenticated, for a slot for
    # at most speech_wait_seconds, then get UNAVAILABLE (the gateway's 503 + Retry-After), at no cost.
    speech_slots: int = 16
    speech_wait_seconds: float = 60.0
    # gRPC server threads: beyond the speech slots, so a waiting request holds a thread that has already
    # checked its token (a request queued for a thread is unauthenticated, and its token ages meanwhile),
    # and job reads still get threads while every slot is busy.
    grpc_workers: int = 64
    # Worker processes (`python -m services.synthesis.worker_pool`, the image's synthesis-worker role): each
    # holds its own model copy and generates one request at a time on it (engine/coqui.py serialises a
    # copy), so more processes per GPU let one's CPU work (text, resampling, marks, Kafka) overlap
    # another's GPU work, at one model copy of GPU memory each (XTTS-v2: ~2 GiB of weights).
    workers_per_gpu: int = Field(default=1, ge=1)
    # Worker processes where no GPU is visible (each a model copy in RAM and its own torch threads).
    cpu_workers: int = Field(default=1, ge=1)
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
    # Lease of a unary or streamed generation's reservation (longer for long texts): how long an edge
    # killed mid-call holds the tenant's concurrency slot. Jobs keep their own (jobs.JOB_QUOTA_TTL_SECONDS).
    quota_ttl_seconds: int = 300
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 2.0
    # An endpoint is disabled after this many failed deliveries in a row.
    webhook_disable_after: int = 5
    webhook_poll_seconds: float = 0.5
    # Deliver to loopback and private addresses too (TIMBRE_WEBHOOK_ALLOW_PRIVATE=true): for a local stack
    # and tests only. False refuses them at registration and delivery (kit/net/egress.py, docs/security.md).
    webhook_allow_private: bool = False

    def dedicated_tier_names(self) -> frozenset[str]:
        names = frozenset(t.strip() for t in self.dedicated_tiers.split(",") if t.strip())
        unknown = names - set(TIER_NAMES.values())
        if unknown:
            raise ValueError(f"TIMBRE_DEDICATED_TIERS names unknown tiers: {', '.join(sorted(unknown))}")
        return names
