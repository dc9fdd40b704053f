"""Table definitions of the "watermark" schema (the migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Sequence, String, Table, func

from kit.db.tables import inbox_table, outbox_table

SCHEMA = "watermark"
metadata = MetaData(schema=SCHEMA)

generation_ids = Sequence("generation_ids", schema=SCHEMA, start=1, maxvalue=2**31 - 1, metadata=metadata)

provenance = Table(
    "provenance",
    metadata,
    Column("generation_id", BigInteger, primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("voice_id", String(36), nullable=False, server_default=""),
    Column("user_id", String(100), nullable=False, server_default=""),
    Column("api_version", String(20), nullable=False, server_default=""),
    Column("model", String(60), nullable=False, server_default=""),
    Column("source", String(20), nullable=False),  # synthesis | embed
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
