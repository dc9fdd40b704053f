"""Per-service Alembic migrations: each service owns one PostgreSQL schema and its version table.

A service keeps `migrations/` (env.py + versions/) next to its code; `upgrade(...)` runs them
programmatically, so no alembic.ini is needed and each schema migrates independently.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, pool, text


def alembic_config(migrations_dir: Path, schema: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(migrations_dir: Path, schema: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, schema, url), revision)


def run_env() -> None:
    """Body of every service's migrations/env.py (online mode only: we always have a database)."""
    config = context.config
    schema = config.attributes["schema"]
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: sqlalchemy.url is not set (kit.db.migrations.alembic_config sets it)")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=schema,
            include_schemas=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations(schema=schema)
    engine.dispose()
