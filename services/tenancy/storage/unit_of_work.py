"""The unit of work over PostgreSQL: one connection's transaction with the repositories and outbox on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.protobuf.message import Message
from sqlalchemy import Connection, Engine

from kit.events.outbox import Outbox
from kit.events.topics import TopicSpec
from services.tenancy.storage.quota_store import SqlReservations
from services.tenancy.storage.repository import SqlAccounts


class ConnectionOutbox:
    """The service's outbox, bound to the transaction that stages events in it."""

    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.conn = conn
        self._outbox = outbox

    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        return self._outbox.add(self.conn, topic, key, payload, tenant_id=tenant_id)


class SqlTransaction:
    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.accounts = SqlAccounts(conn)
        self.reservations = SqlReservations(conn)
        self.outbox = ConnectionOutbox(conn, outbox)


class SqlUnitOfWork:
    def __init__(self, engine: Engine, outbox: Outbox) -> None:
        self.engine = engine
        self._outbox = outbox

    @contextmanager
    def begin(self) -> Iterator[SqlTransaction]:
        with self.engine.begin() as conn:
            yield SqlTransaction(conn, self._outbox)

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        with self.engine.connect() as conn:
            yield SqlTransaction(conn, self._outbox)
