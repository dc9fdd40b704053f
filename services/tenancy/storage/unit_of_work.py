"""The unit of work over PostgreSQL: one connection's transaction with the repositories and outbox on it."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from kit.db.unit_of_work import SqlUnitOfWork as UnitOfWork
from kit.events.outbox import BoundOutbox, Outbox
from services.tenancy.storage.quota_store import SqlReservations
from services.tenancy.storage.repository import SqlAccounts


class SqlTransaction:
    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.accounts = SqlAccounts(conn)
        self.reservations = SqlReservations(conn)
        self.outbox = BoundOutbox(conn, outbox)


class SqlUnitOfWork(UnitOfWork[SqlTransaction]):
    def __init__(self, engine: Engine, outbox: Outbox) -> None:
        super().__init__(engine, lambda conn: SqlTransaction(conn, outbox))
