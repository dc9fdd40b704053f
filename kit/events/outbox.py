"""Writing events into a service's outbox, inside the caller's transaction."""

from __future__ import annotations

import json
import uuid

from google.protobuf.message import Message
from sqlalchemy import Connection, MetaData, Table, insert

from kit.db.tables import outbox_table
from kit.events.envelope import headers_for, pack
from kit.events.topics import TopicSpec


class Outbox:
    def __init__(self, schema: str, service: str) -> None:
        self.table: Table = outbox_table(MetaData(), schema)
        self.service = service

    def add(self, conn: Connection, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        """Stage one event; it reaches Kafka only if the surrounding transaction commits."""
        envelope = pack(payload, tenant_id=tenant_id, source=self.service)
        headers = json.dumps([[k, v.decode()] for k, v in headers_for(envelope)]).encode()
        conn.execute(
            insert(self.table).values(
                event_id=envelope.event_id,
                topic=topic.name,
                key=key,
                payload=envelope.SerializeToString(),
                headers=headers,
            )
        )
        return envelope.event_id

    def add_tombstone(self, conn: Connection, topic: TopicSpec, key: str) -> None:
        """A null value for `key` on a compacted topic: compaction then forgets the key."""
        conn.execute(
            insert(self.table).values(
                event_id=str(uuid.uuid4()), topic=topic.name, key=key, payload=None, headers=b"[]"
            )
        )


class BoundOutbox:
    """The service's outbox bound to the transaction that stages events in it (a use case's port)."""

    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        self.conn = conn
        self._outbox = outbox

    def add(self, topic: TopicSpec, key: str, payload: Message, tenant_id: str = "") -> str:
        return self._outbox.add(self.conn, topic, key, payload, tenant_id=tenant_id)

    def add_tombstone(self, topic: TopicSpec, key: str) -> None:
        self._outbox.add_tombstone(self.conn, topic, key)
