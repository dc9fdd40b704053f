"""Webhook endpoints and their deliveries.

A job's final transaction stages one delivery per subscribed endpoint (so a completion is never
announced for a job that did not complete, nor lost when the process dies); `Deliverer` sends them,
signed, retries with backoff, and disables an endpoint after repeated failures, saying why.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import Connection, Row

from kit.db.engine import UnitOfWork
from kit.errors import InvalidArgument, NotFound
from kit.ids import is_uuid
from kit.logging import get_logger
from services.synthesis.domain import webhooks as rules
from services.synthesis.storage import repository as repo

log = get_logger("synthesis.webhooks")


class Webhooks:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def create(self, tenant_id: str, url: str, events: list[str]) -> tuple[Row, str]:
        events = sorted(set(events or rules.EVENTS))
        unknown = set(events) - set(rules.EVENTS)
        if unknown:
            raise InvalidArgument(
                f"unknown webhook events {sorted(unknown)}; one of {list(rules.EVENTS)}", field="events"
            )
        secret = "whsec_" + secrets.token_urlsafe(32)
        with self.uow.begin() as conn:
            row = repo.add_webhook(
                conn,
                webhook_id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                url=rules.check_url(url),
                events=events,
                secret=secret,
            )
        return row, secret

    def list(self, tenant_id: str, after, limit: int) -> list[Row]:
        with self.uow.read() as conn:
            return repo.list_webhooks(conn, tenant_id, after, limit)

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        with self.uow.begin() as conn:
            row = repo.webhook(conn, webhook_id, tenant_id, for_update=True) if is_uuid(webhook_id) else None
            if row is None:
                raise NotFound("webhook not found")
            repo.set_webhook(conn, webhook_id, deleted_at=repo.now())

    def stage(self, conn: Connection, job: Row, event: str) -> int:
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
                "occurred_at": repo.now().isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        hooks = repo.active_webhooks(conn, job.tenant_id, event)
        for hook in hooks:
            repo.add_delivery(conn, delivery_id=str(uuid.uuid4()), webhook_id=hook.webhook_id, event=event, body=body)
        return len(hooks)


class Deliverer:
    """Background loop (one per process; rows are locked, so several processes share the work)."""

    name = "webhook-deliverer"

    def __init__(
        self,
        uow: UnitOfWork,
        timeout_seconds: float = 5.0,
        max_attempts: int = 6,
        backoff_seconds: float = 2.0,
        disable_after: int = 5,
        poll_seconds: float = 0.5,
    ) -> None:
        self.uow = uow
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.disable_after = disable_after
        self.poll_seconds = poll_seconds
        self.client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive; the rows stay due
                log.warning("webhook_loop_failed", error=str(exc))
                sent = 0
            if not sent:
                stop.wait(self.poll_seconds)
        self.client.close()

    def deliver_due(self, limit: int = 10) -> int:
        """Claims due deliveries in a short transaction (a lease: their next attempt moves past the HTTP
        timeout, so no other replica takes them meanwhile), posts them with no transaction open, then
        records each outcome. A crash between the post and the record repeats the post after the lease:
        delivery is at least once, and receivers deduplicate on the Timbre-Delivery header."""
        lease = timedelta(seconds=self.client.timeout.read * 2 + 5)
        claimed = []
        with self.uow.begin() as conn:
            for delivery in repo.due_deliveries(conn, limit):
                hook = repo.webhook(conn, delivery.webhook_id)
                if hook is None or hook.disabled:
                    repo.set_delivery(
                        conn, delivery.delivery_id, abandoned_at=repo.now(), last_error="endpoint deleted or disabled"
                    )
                    continue
                repo.set_delivery(conn, delivery.delivery_id, next_attempt_at=repo.now() + lease)
                claimed.append((delivery, hook))
        for delivery, hook in claimed:
            error = self._post(hook, delivery)
            with self.uow.begin() as conn:
                self._record(conn, delivery, error)
        return len(claimed)

    def _record(self, conn: Connection, delivery: Row, error: str | None) -> None:
        hook = repo.webhook(conn, delivery.webhook_id, for_update=True)
        attempts = delivery.attempts + 1
        if error is None:
            repo.set_delivery(conn, delivery.delivery_id, attempts=attempts, delivered_at=repo.now(), last_error="")
            if hook is not None:
                repo.set_webhook(conn, hook.webhook_id, consecutive_failures=0)
            return
        log.warning("webhook_delivery_failed", webhook_id=delivery.webhook_id, attempt=attempts, error=error)
        disabled = False
        if hook is not None and not hook.disabled:
            failures = hook.consecutive_failures + 1
            changes = {"consecutive_failures": failures}
            if failures >= self.disable_after:
                disabled = True
                changes.update(disabled=True, disabled_reason=f"{failures} deliveries failed in a row; last: {error}")
            repo.set_webhook(conn, hook.webhook_id, **changes)
        if attempts >= self.max_attempts or disabled or hook is None:
            repo.set_delivery(conn, delivery.delivery_id, attempts=attempts, abandoned_at=repo.now(), last_error=error)
        else:
            retry_at = repo.now() + timedelta(seconds=rules.backoff(attempts, self.backoff_seconds))
            repo.set_delivery(conn, delivery.delivery_id, attempts=attempts, next_attempt_at=retry_at, last_error=error)

    def _post(self, hook: Row, delivery: Row) -> str | None:
        headers = {
            "content-type": "application/json",
            "user-agent": "Timbre-Webhooks/1",
            rules.SIGNATURE_HEADER: rules.signature(hook.secret, int(time.time()), delivery.body),
            "Timbre-Delivery": delivery.delivery_id,
            "Timbre-Event": delivery.event,
        }
        try:
            reply = self.client.post(hook.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{exc.__class__.__name__}: {exc}"[:500]
        if 200 <= reply.status_code < 300:
            return None
        return f"HTTP {reply.status_code}"
