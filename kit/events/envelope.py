"""Protobuf event envelopes: pack a payload message with its metadata, unpack by type name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from google.protobuf import any_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from kit.logging import current
from timbre.v1 import events_pb2

# Importing events_pb2 registers every event type in the default pool.
_ = events_pb2


@dataclass(frozen=True)
class Event:
    envelope: events_pb2.EventEnvelope
    payload: Message

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def event_id(self) -> str:
        return self.envelope.event_id


class UndecodableEvent(ValueError):
    pass


def pack(
    payload: Message, *, tenant_id: str = "", source: str = "", event_id: str | None = None
) -> events_pb2.EventEnvelope:
    envelope = events_pb2.EventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        type=payload.DESCRIPTOR.full_name,
        tenant_id=tenant_id,
        trace_id=current("trace_id") or "",
        source=source,
    )
    envelope.occurred_at.GetCurrentTime()
    any_payload = any_pb2.Any()
    any_payload.Pack(payload)
    envelope.payload.CopyFrom(any_payload)
    return envelope


def unpack(data: bytes) -> Event:
    envelope = events_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise UndecodableEvent("value is not an EventEnvelope") from exc
    if not envelope.event_id or not envelope.type:
        raise UndecodableEvent("envelope lacks event_id or type")
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(envelope.type)
    except KeyError as exc:
        raise UndecodableEvent(f"unknown event type {envelope.type}") from exc
    payload = message_factory.GetMessageClass(descriptor)()
    if not envelope.payload.Unpack(payload):
        raise UndecodableEvent(f"payload is not a {envelope.type}")
    return Event(envelope, payload)


def headers_for(envelope: events_pb2.EventEnvelope) -> list[tuple[str, bytes]]:
    headers = [("event-id", envelope.event_id.encode()), ("event-type", envelope.type.encode())]
    if envelope.trace_id:
        headers.append(("trace-id", envelope.trace_id.encode()))
    request_id = current("request_id")
    if request_id:
        headers.append(("request-id", request_id.encode()))
    return headers
