"""The synthesis schema through SQLAlchemy Core: the adapter of service_layer.ports' Repository and
UnitOfWork. Rows become domain dataclasses here; nothing above this module sees a Row."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import Connection, Engine, Row, Table, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from kit.crypto.sql import SqlDataKeys
from kit.db.unit_of_work import SqlUnitOfWork as UnitOfWork
from kit.events.outbox import Outbox
from kit.events.topics import TopicSpec
from kit.paging import Cursor, Page, PageRequest, page_of
from services.synthesis.domain.generations import Generation
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.voices import VoiceState
from services.synthesis.domain.webhooks import Delivery, Webhook
from services.synthesis.storage.tables import (
    data_keys,
    generation_ids,
    generations,
    jobs,
    voices,
    webhook_deliveries,
    webhooks,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _of(cls: type, row: Row) -> Any:
    return cls(**row._asdict())


def _values(table: Table, item: object, *skip: str) -> dict[str, Any]:
    """The dataclass's fields that are columns of `table` (a None timestamp leaves the default)."""
    return {k: v for k, v in asdict(item).items() if k in table.c and k not in skip}  # type: ignore[call-overload]


class SqlRepository:
    """One transaction's view of the schema, and its outbox."""

    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.conn = conn
        self.outbox = outbox
        self.data_keys = SqlDataKeys(conn, data_keys)

    # --- voices --------------------------------------------------------------------------------

    def voice(self, voice_id: str, for_update: bool = False) -> VoiceState | None:
        query = select(voices).where(voices.c.voice_id == voice_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        values = row._asdict()
        values.pop("updated_at")
        return VoiceState(**values)

    def save_voice(self, voice: VoiceState) -> None:
        """Creates the voice's row or replaces what it says (events may arrive for a voice not seen yet)."""
        values = {**_values(voices, voice), "updated_at": _now()}
        changes = {k: v for k, v in values.items() if k not in ("voice_id", "tenant_id")}
        self.conn.execute(
            insert(voices).values(**values).on_conflict_do_update(index_elements=["voice_id"], set_=changes)
        )

    # --- generations ---------------------------------------------------------------------------

    def next_generation_id(self) -> int:
        return int(self.conn.execute(generation_ids.next_value()).scalar_one())

    def add_generation(self, generation: Generation) -> None:
        self.conn.execute(insert(generations).values(**_values(generations, generation)))

    def job_has_generation(self, job_id: str) -> bool:
        return (
            self.conn.execute(select(generations.c.generation_id).where(generations.c.job_id == job_id)).first()
            is not None
        )

    # --- jobs ----------------------------------------------------------------------------------

    def add_job(self, job: Job) -> Job:
        values = _values(jobs, job, "created_at", "updated_at")
        return _of(Job, self.conn.execute(insert(jobs).values(**values).returning(*jobs.c)).one())

    def job(self, job_id: str, tenant_id: str | None = None, for_update: bool = False) -> Job | None:
        query = select(jobs).where(jobs.c.job_id == job_id)
        if tenant_id is not None:
            query = query.where(jobs.c.tenant_id == tenant_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _of(Job, row)

    def job_by_key(self, tenant_id: str, idempotency_key: str) -> Job | None:
        row = self.conn.execute(
            select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.idempotency_key == idempotency_key)
        ).first()
        return None if row is None else _of(Job, row)

    def save_job(self, job: Job) -> Job:
        values = {**_values(jobs, job, "job_id", "created_at"), "updated_at": _now()}
        row = self.conn.execute(
            update(jobs).where(jobs.c.job_id == job.job_id).values(**values).returning(*jobs.c)
        ).one()
        return _of(Job, row)

    def list_jobs(self, tenant_id: str, state: str | None, page: PageRequest) -> Page[Job]:
        query = select(jobs).where(jobs.c.tenant_id == tenant_id)
        if state:
            query = query.where(jobs.c.state == state)
        if page.after:
            query = query.where(tuple_(jobs.c.created_at, jobs.c.job_id) < (page.after.created_at, page.after.id))
        rows = self.conn.execute(query.order_by(jobs.c.created_at.desc(), jobs.c.job_id.desc()).limit(page.fetch))
        return page_of([_of(Job, r) for r in rows], page, _job_cursor)

    # --- webhooks ------------------------------------------------------------------------------

    def add_webhook(self, webhook: Webhook) -> Webhook:
        values = _values(webhooks, webhook, "created_at")
        return _of(Webhook, self.conn.execute(insert(webhooks).values(**values).returning(*webhooks.c)).one())

    def webhook(self, webhook_id: str, tenant_id: str | None = None, for_update: bool = False) -> Webhook | None:
        query = select(webhooks).where(webhooks.c.webhook_id == webhook_id, webhooks.c.deleted_at.is_(None))
        if tenant_id is not None:
            query = query.where(webhooks.c.tenant_id == tenant_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _of(Webhook, row)

    def list_webhooks(self, tenant_id: str, page: PageRequest) -> Page[Webhook]:
        query = select(webhooks).where(webhooks.c.tenant_id == tenant_id, webhooks.c.deleted_at.is_(None))
        if page.after:
            query = query.where(
                tuple_(webhooks.c.created_at, webhooks.c.webhook_id) < (page.after.created_at, page.after.id)
            )
        rows = self.conn.execute(
            query.order_by(webhooks.c.created_at.desc(), webhooks.c.webhook_id.desc()).limit(page.fetch)
        )
        return page_of([_of(Webhook, r) for r in rows], page, _webhook_cursor)

    def active_webhooks(self, tenant_id: str, event: str) -> list[Webhook]:
        rows = self.conn.execute(
            select(webhooks).where(
                webhooks.c.tenant_id == tenant_id,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.disabled.is_(False),
                webhooks.c.events.any(event),
            )
        )
        return [_of(Webhook, r) for r in rows]

    def save_webhook(self, webhook: Webhook) -> None:
        values = _values(webhooks, webhook, "webhook_id", "tenant_id", "created_at")
        self.conn.execute(update(webhooks).where(webhooks.c.webhook_id == webhook.webhook_id).values(**values))

    def add_delivery(self, delivery: Delivery) -> None:
        skip = ("next_attempt_at",) if delivery.next_attempt_at is None else ()
        self.conn.execute(insert(webhook_deliveries).values(**_values(webhook_deliveries, delivery, *skip)))

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        """Deliveries whose time has come, locked so that two workers never send the same one."""
        rows = self.conn.execute(
            select(webhook_deliveries)
            .where(
                webhook_deliveries.c.delivered_at.is_(None),
                webhook_deliveries.c.abandoned_at.is_(None),
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [Delivery(**{k: v for k, v in r._asdict().items() if k != "created_at"}) for r in rows]

    def save_delivery(self, delivery: Delivery) -> None:
        values = _values(webhook_deliveries, delivery, "delivery_id", "webhook_id", "event", "body")
        self.conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == delivery.delivery_id).values(**values)
        )

    # --- outbox --------------------------------------------------------------------------------

    def stage(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> None:
        self.outbox.add(self.conn, topic, key, payload, tenant_id=tenant_id)


def _job_cursor(job: Job) -> Cursor:
    assert job.created_at is not None  # read from the table, where it is never null
    return Cursor(job.created_at, job.job_id)


def _webhook_cursor(hook: Webhook) -> Cursor:
    assert hook.created_at is not None
    return Cursor(hook.created_at, hook.webhook_id)


class SqlUnitOfWork(UnitOfWork[SqlRepository]):
    def __init__(self, engine: Engine, outbox: Outbox) -> None:
        super().__init__(engine, lambda conn: SqlRepository(conn, outbox))
