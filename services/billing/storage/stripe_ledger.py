"""Billing's Stripe ledger in PostgreSQL (SQLAlchemy Core over the transaction's connection)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from kit.db.unit_of_work import SqlUnitOfWork
from kit.events.outbox import BoundOutbox, Outbox
from kit.paging import Cursor
from services.billing.domain.billing_state import BillingState, Invoice, Standing
from services.billing.domain.metering import DeadLetter, MeterEvent, ReportStatus, StripeAnswer
from services.billing.domain.stripe_account import StripeAccount
from services.billing.service_layer.stripe_ports import StripeEvent, Subscription
from services.billing.storage.stripe_tables import (
    invoices,
    meter_reports,
    stripe_catalog,
    stripe_dead_letters,
    stripe_events,
)
from services.billing.storage.tables import SCHEMA, accounts

ANSWER_LIMIT = 2000


def _account(row) -> StripeAccount:
    return StripeAccount(
        tenant_id=row.tenant_id,
        name=row.name,
        tier=row.tier,
        customer_id=row.stripe_customer_id,
        subscription_id=row.stripe_subscription_id,
        item_ids=tuple(i for i in row.stripe_item_ids.split(",") if i),
        subscribed_tier=row.subscribed_tier,
        standing=Standing(BillingState(row.billing_state), row.billing_reason, row.past_due_since),
    )


class SqlStripeLedger:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- catalog ---------------------------------------------------------------------------------

    def catalog_id(self, key: str) -> str | None:
        return self.conn.execute(select(stripe_catalog.c.stripe_id).where(stripe_catalog.c.key == key)).scalar()

    def save_catalog_id(self, key: str, stripe_id: str) -> None:
        self.conn.execute(insert(stripe_catalog).values(key=key, stripe_id=stripe_id).on_conflict_do_nothing())

    # --- accounts --------------------------------------------------------------------------------

    def accounts_to_sync(self, limit: int) -> list[StripeAccount]:
        rows = self.conn.execute(
            select(accounts)
            .where(
                accounts.c.stripe_sync_blocked.is_(False),
                or_(
                    accounts.c.stripe_customer_id.is_(None),
                    accounts.c.stripe_subscription_id.is_(None),
                    accounts.c.subscribed_tier.is_distinct_from(accounts.c.tier),
                ),
            )
            .order_by(accounts.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_account(row) for row in rows]

    def account(self, tenant_id: str) -> StripeAccount | None:
        row = self.conn.execute(select(accounts).where(accounts.c.tenant_id == tenant_id)).first()
        return _account(row) if row else None

    def account_by_customer(self, customer_id: str) -> StripeAccount | None:
        row = self.conn.execute(select(accounts).where(accounts.c.stripe_customer_id == customer_id)).first()
        return _account(row) if row else None

    def save_customer(self, tenant_id: str, customer_id: str) -> None:
        self.conn.execute(
            update(accounts).where(accounts.c.tenant_id == tenant_id).values(stripe_customer_id=customer_id)
        )

    def set_tier(self, tenant_id: str, tier: str) -> None:
        self.conn.execute(update(accounts).where(accounts.c.tenant_id == tenant_id).values(tier=tier))

    def save_subscription(self, tenant_id: str, subscription: Subscription, tier: str) -> None:
        self.conn.execute(
            update(accounts)
            .where(accounts.c.tenant_id == tenant_id)
            .values(
                stripe_subscription_id=subscription.subscription_id,
                stripe_item_ids=",".join(subscription.item_ids),
                subscribed_tier=tier,
            )
        )

    def block_sync(self, tenant_id: str) -> None:
        self.conn.execute(update(accounts).where(accounts.c.tenant_id == tenant_id).values(stripe_sync_blocked=True))

    def save_standing(self, tenant_id: str, standing: Standing) -> None:
        self.conn.execute(
            update(accounts)
            .where(accounts.c.tenant_id == tenant_id)
            .values(
                billing_state=standing.state.value,
                billing_reason=standing.reason,
                past_due_since=standing.past_due_since,
            )
        )

    def past_due(self) -> list[StripeAccount]:
        rows = self.conn.execute(
            select(accounts).where(accounts.c.billing_state == BillingState.PAST_DUE.value).with_for_update()
        )
        return [_account(row) for row in rows]

    # --- meter events ----------------------------------------------------------------------------

    def enqueue(self, event: MeterEvent) -> None:
        self.conn.execute(
            insert(meter_reports)
            .values(
                identifier=event.identifier, tenant_id=event.tenant_id, value=event.value, occurred_at=event.occurred_at
            )
            .on_conflict_do_nothing(index_elements=[meter_reports.c.identifier])
        )

    def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[tuple[MeterEvent, str | None]]:
        due = (
            select(meter_reports.c.identifier)
            .where(
                meter_reports.c.status == ReportStatus.PENDING.value,
                meter_reports.c.next_attempt_at <= now,
                or_(meter_reports.c.claimed_until.is_(None), meter_reports.c.claimed_until < now),
            )
            .order_by(meter_reports.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = self.conn.execute(
            update(meter_reports)
            .where(meter_reports.c.identifier.in_(due))
            .values(claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(
                meter_reports.c.identifier,
                meter_reports.c.tenant_id,
                meter_reports.c.value,
                meter_reports.c.occurred_at,
                meter_reports.c.attempts,
            )
        ).all()
        customers = dict(
            self.conn.execute(
                select(accounts.c.tenant_id, accounts.c.stripe_customer_id).where(
                    accounts.c.tenant_id.in_({row.tenant_id for row in claimed})
                )
            ).all()
        )
        events = [
            (MeterEvent(r.identifier, r.tenant_id, r.value, r.occurred_at, r.attempts), customers.get(r.tenant_id))
            for r in claimed
        ]
        return sorted(events, key=lambda pair: pair[0].occurred_at)

    def _finish(self, identifier: str, answer: StripeAnswer, **values: Any) -> None:
        self.conn.execute(
            update(meter_reports)
            .where(meter_reports.c.identifier == identifier)
            .values(
                claimed_until=None,
                http_status=answer.http_status,
                answer=answer.detail[:ANSWER_LIMIT],
                **values,
            )
        )

    def mark_sent(self, identifier: str, answer: StripeAnswer, now: datetime) -> None:
        self._finish(
            identifier, answer, status=ReportStatus.SENT.value, sent_at=now, attempts=meter_reports.c.attempts + 1
        )

    def mark_retry(self, identifier: str, answer: StripeAnswer, next_at: datetime) -> None:
        attempts = meter_reports.c.attempts + (1 if answer.http_status else 0)
        self._finish(identifier, answer, next_attempt_at=next_at, attempts=attempts)

    def mark_dead(self, event: MeterEvent, answer: StripeAnswer) -> None:
        self._finish(event.identifier, answer, status=ReportStatus.DEAD.value, attempts=meter_reports.c.attempts + 1)
        self.add_dead_letter(event.identifier, event.tenant_id, "meter_event", answer)

    def reported_characters(self, tenant_id: str, start: datetime, end: datetime) -> int:
        total = self.conn.execute(
            select(func.coalesce(func.sum(meter_reports.c.value), 0)).where(
                meter_reports.c.tenant_id == tenant_id,
                meter_reports.c.status == ReportStatus.SENT.value,
                meter_reports.c.occurred_at >= start,
                meter_reports.c.occurred_at < end,
            )
        ).scalar_one()
        return int(total)

    def pending_count(self) -> int:
        return int(
            self.conn.execute(
                select(func.count()).where(meter_reports.c.status == ReportStatus.PENDING.value)
            ).scalar_one()
        )

    # --- dead letters ----------------------------------------------------------------------------

    def add_dead_letter(self, identifier: str, tenant_id: str, kind: str, answer: StripeAnswer) -> None:
        statement = insert(stripe_dead_letters).values(
            identifier=identifier,
            tenant_id=tenant_id,
            kind=kind,
            http_status=answer.http_status,
            reason=answer.detail[:ANSWER_LIMIT],
        )
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[stripe_dead_letters.c.identifier],
                set_={
                    "http_status": answer.http_status,
                    "reason": answer.detail[:ANSWER_LIMIT],
                    "attempts": stripe_dead_letters.c.attempts + 1,
                    "created_at": func.now(),
                },
            )
        )

    def dead_letters(self, after: Cursor | None, limit: int) -> list[DeadLetter]:
        query = select(stripe_dead_letters)
        if after is not None:
            query = query.where(
                tuple_(stripe_dead_letters.c.created_at, stripe_dead_letters.c.identifier)
                > tuple_(literal(after.created_at), literal(after.id))
            )
        rows = self.conn.execute(
            query.order_by(stripe_dead_letters.c.created_at, stripe_dead_letters.c.identifier).limit(limit)
        )
        return [
            DeadLetter(r.identifier, r.tenant_id, r.kind, r.http_status, r.reason, r.attempts, r.created_at)
            for r in rows
        ]

    def replay(self, identifiers: Sequence[str]) -> int:
        """Back to work: meter events pending again (same identifier), accounts unblocked."""
        chosen = select(stripe_dead_letters)
        if identifiers:
            chosen = chosen.where(stripe_dead_letters.c.identifier.in_(list(identifiers)))
        letters = self.conn.execute(chosen.with_for_update()).all()
        for letter in letters:
            if letter.kind == "meter_event":
                self.conn.execute(
                    update(meter_reports)
                    .where(meter_reports.c.identifier == letter.identifier)
                    .values(status=ReportStatus.PENDING.value, next_attempt_at=func.now(), claimed_until=None)
                )
            else:
                self.conn.execute(
                    update(accounts).where(accounts.c.tenant_id == letter.tenant_id).values(stripe_sync_blocked=False)
                )
        if letters:
            self.conn.execute(
                delete(stripe_dead_letters).where(
                    stripe_dead_letters.c.identifier.in_([letter.identifier for letter in letters])
                )
            )
        return len(letters)

    # --- webhooks and invoices -------------------------------------------------------------------

    def first_time(self, event: StripeEvent, tenant_id: str | None) -> bool:
        inserted = self.conn.execute(
            insert(stripe_events)
            .values(event_id=event.event_id, type=event.type, tenant_id=tenant_id)
            .on_conflict_do_nothing(index_elements=[stripe_events.c.event_id])
            .returning(stripe_events.c.event_id)
        ).first()
        return inserted is not None

    def save_invoice(self, invoice: Invoice) -> None:
        values = {
            "status": invoice.status,
            "amount_due_cents": invoice.amount_due_cents,
            "amount_paid_cents": invoice.amount_paid_cents,
            "currency": invoice.currency,
            "hosted_invoice_url": invoice.hosted_invoice_url,
        }
        self.conn.execute(
            insert(invoices)
            .values(invoice_id=invoice.invoice_id, tenant_id=invoice.tenant_id, created_at=invoice.created_at, **values)
            .on_conflict_do_update(index_elements=[invoices.c.invoice_id], set_={**values, "updated_at": func.now()})
        )

    def invoices(self, tenant_id: str, limit: int) -> list[Invoice]:
        rows = self.conn.execute(
            select(invoices)
            .where(invoices.c.tenant_id == tenant_id)
            .order_by(invoices.c.created_at.desc())
            .limit(limit)
        )
        return [
            Invoice(
                r.invoice_id,
                r.tenant_id,
                r.status,
                r.amount_due_cents,
                r.amount_paid_cents,
                r.currency,
                r.hosted_invoice_url,
                r.created_at,
            )
            for r in rows
        ]


class StripeWork:
    """What one transaction of the Stripe use cases works with: the ledger and the outbox."""

    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.ledger = SqlStripeLedger(conn)
        self.events = BoundOutbox(conn, outbox)


class SqlStripeUnitOfWork(SqlUnitOfWork[StripeWork]):
    def __init__(self, engine: Engine) -> None:
        outbox = Outbox(SCHEMA, "billing")
        super().__init__(engine, lambda conn: StripeWork(conn, outbox))
