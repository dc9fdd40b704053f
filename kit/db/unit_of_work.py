"""A service's unit of work over PostgreSQL: one connection's transaction with the service's repositories
on it. `begin()` commits on success and rolls back on any exception, `read()` only reads, and
`joined(conn)` serves a transaction someone else opened — the event consumer's, so a handler's writes
commit with its inbox mark. Each service says what it puts on a connection (`open_repositories`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine

Repositories = TypeVar("Repositories")


class SqlUnitOfWork(Generic[Repositories]):
    def __init__(self, engine: Engine, open_repositories: Callable[[Connection], Repositories]) -> None:
        self.engine = engine
        self._open = open_repositories

    @contextmanager
    def begin(self) -> Iterator[Repositories]:
        with self.engine.begin() as conn:
            yield self._open(conn)

    @contextmanager
    def read(self) -> Iterator[Repositories]:
        with self.engine.connect() as conn:
            yield self._open(conn)

    def joined(self, conn: Connection) -> Repositories:
        return self._open(conn)
