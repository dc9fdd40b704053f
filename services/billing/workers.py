"""Billing's Stripe loop: customers and subscriptions in step with tenants, the ledger's meter events
sent, and past-due tenants suspended when their grace period ends. Safe with several replicas: rows
are claimed with SKIP LOCKED and leases, and every Stripe call is idempotent."""

from __future__ import annotations

import threading
import time

from kit.logging import get_logger
from services.billing import stripe_metrics
from services.billing.service_layer.stripe_billing import StripeBilling

log = get_logger("stripe_reporter")


class StripeReporter:
    name = "stripe-reporter"

    def __init__(self, billing: StripeBilling, poll_seconds: float, grace_check_seconds: float = 30.0) -> None:
        self.billing = billing
        self.poll = poll_seconds
        self.grace_check = grace_check_seconds

    def run(self, stop: threading.Event) -> None:
        failures = 0
        last_grace_check = 0.0
        while not stop.is_set():
            try:
                self.billing.sync_accounts()
                busy = self._report_until_idle(stop)
                if time.monotonic() - last_grace_check >= self.grace_check:
                    self.billing.expire_grace()
                    last_grace_check = time.monotonic()
                stripe_metrics.PENDING.set(self.billing.pending())
                failures = 0
            except Exception:  # noqa: BLE001 - the loop must outlive a database or network hiccup
                failures += 1
                log.exception("stripe round failed", failures=failures)
                busy = False
            if not busy:
                stop.wait(min(30.0, self.poll * (2**failures)))

    def _report_until_idle(self, stop: threading.Event) -> bool:
        worked = False
        while not stop.is_set():
            round_ = self.billing.report_due()
            if round_.handled:
                worked = True
                log.info("meter events", sent=round_.sent, retried=round_.retried, dead=round_.dead)
            if round_.handled < self.billing.batch_size or round_.sent == 0:
                return worked
        return worked
