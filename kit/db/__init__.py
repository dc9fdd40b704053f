"""PostgreSQL access: engine, unit of work, per-service Alembic migrations, outbox and inbox tables."""
