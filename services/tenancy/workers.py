"""Tenancy's background loop besides the outbox relay: marking lapsed reservations expired."""

from __future__ import annotations

import threading

from kit.logging import get_logger
from services.tenancy.service_layer.quotas import Quotas

log = get_logger("quota_sweeper")


class QuotaSweeper:
    name = "quota-sweeper"

    def __init__(self, quotas: Quotas, every_seconds: float) -> None:
        self.quotas = quotas
        self.every = every_seconds

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            expired = self.quotas.sweep()
            if expired:
                log.info("reservations_expired", count=expired)
