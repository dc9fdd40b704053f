"""The SQLAlchemy 2 engine (psycopg 3); the unit of work over it is kit.db.unit_of_work."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(url: str, pool_size: int = 10) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, future=True)
