"""Keeps this replica's speaker index equal to the compacted speaker-index topic.

Every replica reads every partition from the beginning (no consumer group offsets), so a restart
rebuilds the same index; `caught_up` is set once the replica has read up to the end offsets it saw
at start, and the service reports SERVING only after that.
"""

from __future__ import annotations

import threading
import uuid

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from kit.events.envelope import UndecodableEvent, unpack
from kit.events.kafka import client_config
from kit.events.topics import SPEAKER_INDEX, full_name
from kit.logging import get_logger
from services.embedding.index.speaker_index import SpeakerIndex
from timbre.v1 import events_pb2

log = get_logger("index_sync")


class IndexSync:
    name = "speaker-index-sync"

    def __init__(self, index: SpeakerIndex, bootstrap: str, prefix: str = "", encoder: str = "") -> None:
        self.index = index
        self.bootstrap = bootstrap
        self.topic = full_name(prefix, SPEAKER_INDEX.name)
        self.encoder = encoder
        self.caught_up = threading.Event()
        self.applied = 0

    def run(self, stop: threading.Event) -> None:
        consumer = Consumer(
            {
                **client_config(self.bootstrap),
                "group.id": f"index-sync-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            partitions = consumer.list_topics(self.topic, timeout=30).topics[self.topic].partitions
            assigned = [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions]
            consumer.assign(assigned)
            targets = {
                p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=30)[1] for p in partitions
            }
            while not stop.is_set():
                message = consumer.poll(0.5)
                if message is not None and not message.error():
                    key = message.key()
                    if key is not None:
                        self.apply(key.decode(), message.value())
                if not self.caught_up.is_set():
                    positions = consumer.position([TopicPartition(self.topic, p) for p in partitions])
                    if all(tp.offset >= targets[tp.partition] or targets[tp.partition] == 0 for tp in positions):
                        self.caught_up.set()
                        log.info("speaker_index_ready", voices=len(self.index), records=self.applied)
        finally:
            consumer.close()

    def apply(self, voice_id: str, value: bytes | None) -> None:
        self.applied += 1
        if value is None:
            self.index.remove(voice_id)
            return
        try:
            payload = unpack(value).payload
        except UndecodableEvent:
            payload = None
        if not isinstance(payload, events_pb2.VoiceEmbedding):
            log.warning("speaker_index_bad_record", voice_id=voice_id)
            return
        if self.encoder and payload.encoder != self.encoder:
            return  # an index holds one encoder's space
        self.index.upsert(
            payload.voice_id,
            payload.tenant_id,
            np.array(payload.vector, np.float32),
            frozenset(payload.authorized_tenant_ids),
        )
