"""Gateway process: `python -m gateway.main` (uvicorn; SIGTERM drains in-flight requests).

`TIMBRE_GATEWAY_WORKERS` > 1 runs that many worker processes on one port; each builds its own app,
with its own credential cache and revocation listener (every listener reads every revocation).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.credential_cache import CredentialCache
from gateway.job_status_cache import JobStatusCache
from gateway.revocation_listener import RevocationListener
from kit.logging import configure_logging


def build_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each worker)."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    cache = None
    if settings.credential_cache_seconds > 0:
        cache = CredentialCache(
            ttl_seconds=settings.credential_cache_seconds,
            expiry_margin_seconds=settings.credential_expiry_margin_seconds,
            listener_stale_seconds=settings.credential_listener_stale_seconds,
            hold_seconds=settings.credential_cache_seconds,
            max_entries=settings.credential_cache_max_entries,
        )
    jobs = None
    if settings.job_status_cache_seconds > 0:
        jobs = JobStatusCache(
            active_seconds=settings.job_status_cache_seconds,
            terminal_seconds=max(settings.job_status_terminal_cache_seconds, settings.job_status_cache_seconds),
            listener_stale_seconds=settings.credential_listener_stale_seconds,
            max_entries=settings.job_status_cache_max_entries,
        )
    if cache is None and jobs is None:
        return create_app(settings)
    # One consumer per process feeds both caches (tenant and billing topics, generation lifecycle topic).
    listener = RevocationListener(cache, settings.kafka_bootstrap, settings.topic_prefix, jobs=jobs)
    return create_app(settings, credentials=cache, listener=listener, job_statuses=jobs)


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    uvicorn.run(
        "gateway.main:build_app",
        factory=True,
        host=settings.gateway_host,
        port=settings.gateway_port,
        workers=settings.gateway_workers if settings.gateway_workers > 1 else None,
        # uvloop and httptools: the event loop and HTTP parser in C (both in the venv).
        loop="uvloop",
        http="httptools",
        # A worker that misses uvicorn's ping this long is killed and replaced. The default, 5 s, killed
        # every worker still importing on a loaded machine, and replaced it with another that did too.
        timeout_worker_healthcheck=60,
        timeout_keep_alive=settings.gateway_keep_alive_seconds,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
