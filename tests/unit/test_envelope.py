import pytest

from kit.events.envelope import UndecodableEvent, pack, unpack
from kit.logging import bind_context
from timbre.v1 import events_pb2


def test_round_trip_keeps_payload_and_metadata():
    with bind_context(trace_id="trace-1"):
        envelope = pack(events_pb2.UsageRecorded(tenant_id="t", characters=42), tenant_id="t", source="synthesis")
    event = unpack(envelope.SerializeToString())
    assert event.type == "timbre.v1.UsageRecorded"
    assert event.payload.characters == 42
    assert (event.envelope.tenant_id, event.envelope.source, event.envelope.trace_id) == ("t", "synthesis", "trace-1")
    assert event.envelope.occurred_at.seconds > 0
    assert pack(events_pb2.VoiceDeleted()).event_id != pack(events_pb2.VoiceDeleted()).event_id


def test_garbage_and_unknown_types_are_undecodable():
    with pytest.raises(UndecodableEvent):
        unpack(b"\xff\xff\xff")
    with pytest.raises(UndecodableEvent):
        unpack(b"")
    envelope = pack(events_pb2.VoiceDeleted(voice_id="v"))
    envelope.type = "timbre.v1.NoSuchEvent"
    with pytest.raises(UndecodableEvent):
        unpack(envelope.SerializeToString())
