"""Webhook endpoints and their deliveries.

A job's final transaction stages one delivery per subscribed endpoint (so a completion is never
announced for a job that did not complete, nor lost when the process dies); `Deliverer` sends them,
signed, retries with backoff, and disables an endpoint after repeated failures, saying why.

Endpoint URLs pass the egress policy (kit.net.egress) twice: at registration, and at every delivery
after resolving the host (the Sender connects to the address it checked). A URL refused at delivery
(its name now points inside: DNS rebinding) is not retried: the delivery is abandoned and the
endpoint disabled, with the reason.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from kit.clock import Clock, SystemClock
from kit.errors import InvalidArgument, NotFound
from kit.ids import is_uuid
from kit.logging import get_logger
from kit.net.egress import DestinationForbidden, DestinationUnresolvable, EgressPolicy
from kit.paging import Page, PageRequest
from services.synthesis.domain import webhooks as rules
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.webhooks import Delivery, Webhook
from services.synthesis.service_layer.ports import Repository, UnitOfWork

log = get_logger("synthesis.webhooks")
FORBIDDEN_REASON = "WEBHOOK_URL_FORBIDDEN"


class DestinationCheck(Protocol):
    """Resolves a URL's host and refuses internal destinations (adapter: kit.net.egress.EgressPolicy):
    raises DestinationForbidden, or DestinationUnresolvable when the name has no address."""

    def resolve(self, url: str) -> object: ...


class Webhooks:
    def __init__(self, uow: UnitOfWork, clock: Clock | None = None, egress: DestinationCheck | None = None) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()
        self.egress: DestinationCheck = egress or EgressPolicy()

    def create(self, tenant_id: str, url: str, events: list[str]) -> tuple[Webhook, str]:
        events = sorted(set(events or rules.EVENTS))
        unknown = set(events) - set(rules.EVENTS)
        if unknown:
            raise InvalidArgument(
                f"unknown webhook events {sorted(unknown)}; one of {list(rules.EVENTS)}", field="events"
            )
        url = self.check_destination(rules.check_url(url))
        secret = "whsec_" + secrets.token_urlsafe(32)
        with self.uow.begin() as repo:
            hook = repo.add_webhook(
                Webhook(
                    webhook_id=str(uuid.uuid4()),
                    tenant_id=tenant_id,
                    url=url,
                    events=events,
                    secret=secret,
                )
            )
        return hook, secret

    def check_destination(self, url: str) -> str:
        try:
            self.egress.resolve(url)
        except DestinationForbidden as exc:
            raise InvalidArgument(
                f"webhook url must reach a public address: {exc}", reason=FORBIDDEN_REASON, field="url"
            ) from exc
        except DestinationUnresolvable as exc:
            raise InvalidArgument(f"webhook url's host does not resolve: {exc}", field="url") from exc
        return url

    def list(self, tenant_id: str, page: PageRequest) -> Page[Webhook]:
        with self.uow.read() as repo:
            return repo.list_webhooks(tenant_id, page)

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        with self.uow.begin() as repo:
            hook = repo.webhook(webhook_id, tenant_id, for_update=True) if is_uuid(webhook_id) else None
            if hook is None:
                raise NotFound("webhook not found")
            repo.save_webhook(replace(hook, deleted_at=self.clock.now()))

    def stage(self, repo: Repository, job: Job, event: str) -> int:
        """One delivery per endpoint of the job's tenant that wants `event`, in the caller's transaction."""
        body = json.dumps(
            {
                "type": event,
                "job_id": job.job_id,
                "state": job.state,
                "voice_id": job.voice_id,
                "generation_id": job.generation_id,
                "audio_seconds": job.audio_seconds,
                "error_reason": job.error_reason or None,
                "error_detail": job.error_detail or None,
                "occurred_at": self.clock.now().isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        hooks = repo.active_webhooks(job.tenant_id, event)
        for hook in hooks:
            repo.add_delivery(Delivery(str(uuid.uuid4()), hook.webhook_id, event, body))
        return len(hooks)


class Sender(Protocol):
    """Posts one signed delivery; returns None when the endpoint took it, else what went wrong. Raises
    DestinationForbidden when the URL's host now resolves to an address the egress policy refuses
    (adapter: adapters/webhook_sender.PinnedHttpSender)."""

    timeout_seconds: float

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> str | None: ...

    def close(self) -> None: ...


class Deliverer:
    """Background loop (one per process; rows are locked, so several processes share the work)."""

    name = "webhook-deliverer"

    def __init__(
        self,
        uow: UnitOfWork,
        sender: Sender,
        max_attempts: int = 6,
        backoff_seconds: float = 2.0,
        disable_after: int = 5,
        poll_seconds: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        self.uow = uow
        self.sender = sender
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.disable_after = disable_after
        self.poll_seconds = poll_seconds
        self.clock = clock or SystemClock()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive; the rows stay due
                log.warning("webhook_loop_failed", error=str(exc))
                sent = 0
            if not sent:
                stop.wait(self.poll_seconds)
        self.sender.close()

    def deliver_due(self, limit: int = 10) -> int:
        """Claims due deliveries in a short transaction (a lease: their next attempt moves past the HTTP
        timeout, so no other replica takes them meanwhile), posts them with no transaction open, then
        records each outcome. A crash between the post and the record repeats the post after the lease:
        delivery is at least once, and receivers deduplicate on the Timbre-Delivery header."""
        lease = timedelta(seconds=self.sender.timeout_seconds * 2 + 5)
        claimed: list[tuple[Delivery, Webhook]] = []
        with self.uow.begin() as repo:
            now = self.clock.now()
            for delivery in repo.due_deliveries(now, limit):
                hook = repo.webhook(delivery.webhook_id)
                if hook is None or hook.disabled:
                    repo.save_delivery(replace(delivery, abandoned_at=now, last_error="endpoint deleted or disabled"))
                    continue
                repo.save_delivery(replace(delivery, next_attempt_at=now + lease))
                claimed.append((delivery, hook))
        for delivery, hook in claimed:
            forbidden = False
            try:
                error = self.sender.send(hook.url, delivery.body, self._headers(hook, delivery))
            except DestinationForbidden as exc:
                error, forbidden = f"{FORBIDDEN_REASON}: {exc}", True
            with self.uow.begin() as repo:
                self.record(repo, delivery, error, give_up=forbidden)
        return len(claimed)

    def record(self, repo: Repository, delivery: Delivery, error: str | None, give_up: bool = False) -> None:
        """One attempt's outcome: delivered, or retried later, or abandoned (and the endpoint's run of
        failures counted, disabling it after `disable_after`). `give_up`: the endpoint must not be
        called again (its URL resolves inside the deployment): abandoned and disabled at once."""
        hook = repo.webhook(delivery.webhook_id, for_update=True)
        attempts = delivery.attempts + 1
        now = self.clock.now()
        if error is None:
            repo.save_delivery(replace(delivery, attempts=attempts, delivered_at=now, last_error=""))
            if hook is not None:
                repo.save_webhook(replace(hook, consecutive_failures=0))
            return
        log.warning("webhook_delivery_failed", webhook_id=delivery.webhook_id, attempt=attempts, error=error)
        disabled = False
        if hook is not None and not hook.disabled:
            failures = hook.consecutive_failures + 1
            hook = replace(hook, consecutive_failures=failures)
            if give_up:
                disabled = True
                hook = replace(hook, disabled=True, disabled_reason=error)
            elif failures >= self.disable_after:
                disabled = True
                hook = replace(
                    hook, disabled=True, disabled_reason=f"{failures} deliveries failed in a row; last: {error}"
                )
            repo.save_webhook(hook)
        if attempts >= self.max_attempts or disabled or give_up or hook is None:
            repo.save_delivery(replace(delivery, attempts=attempts, abandoned_at=now, last_error=error))
        else:
            retry_at = now + timedelta(seconds=rules.backoff(attempts, self.backoff_seconds))
            repo.save_delivery(replace(delivery, attempts=attempts, next_attempt_at=retry_at, last_error=error))

    def _headers(self, hook: Webhook, delivery: Delivery) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "user-agent": "Timbre-Webhooks/1",
            rules.SIGNATURE_HEADER: rules.signature(hook.secret, int(self.clock.now().timestamp()), delivery.body),
            "Timbre-Delivery": delivery.delivery_id,
            "Timbre-Event": delivery.event,
        }
