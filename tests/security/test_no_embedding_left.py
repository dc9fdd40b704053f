"""No trace of a deleted or revoked voice remains (issue #18), on the real stack: the embedding service
(in process), a synthesis voice consumer that builds the voices through ReadVoiceSample, two speaker
index replicas built from the compacted topic, PostgreSQL, Kafka and the object store.

One voice is deleted, the other's consent revoked. Afterwards: the embedding column is NULL, the
voice's data keys are gone in both services, no replica's index holds its vector (one that followed
the topic live, one rebuilt from it afterwards), the compacted topic's last record for the voice is a
tombstone, the objects are gone, and copies of them taken before (a backup) can no longer be opened.
"""

from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace

import grpc
import numpy as np
import pytest
import sqlalchemy as sa

from cli import samples
from kit.crypto import DataKeyShredded, VoiceVault, is_sealed
from kit.events.topics import SPEAKER_INDEX, full_name
from kit.storage import ObjectNotFound
from kit.storage.keys import artifact_prefix, sample_prefix
from tests.integration import conftest as integration
from tests.integration.conftest import bearer
from tests.integration.enrollment_helpers import enroll_ready, wait_indexed
from tests.integration.kafka_helpers import read_all
from tests.integration.test_enrollment import consent_details
from timbre.v1 import embedding_pb2, tenancy_pb2

pytestmark = pytest.mark.integration

# The real stack's fixtures (tests/integration/conftest.py): tenancy and tenants.
tenancy, issue, tenancy_stub = integration.tenancy, integration.issue, integration.tenancy_stub
operator_token, new_tenant = integration.operator_token, integration.new_tenant

# Spoken consent needs a voice PocketSphinx hears well: joe, for both (the same tenant may enroll a voice twice).
PASSAGES = {"delete": (0, 1), "revoke": (2, 3)}


def until(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


class Running:
    """A background worker (consumer, index sync) on a thread of its own."""

    def __init__(self, worker) -> None:
        self.worker, self.stop = worker, threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture(scope="module")
def stack(infra):
    """Own topics and own database: the relays of other test processes sharing timbre_test would carry
    this test's events (its tombstones too) to their topics, and theirs to this one's (as test_synthesis)."""
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, ensure_all_topics, migrate_all
    from kit.db.engine import make_engine

    prefix = f"{infra.topic_prefix}sec."
    ensure_all_topics(infra.kafka_bootstrap, prefix)
    url = make_url(infra.database_url).set(database="timbre_test_security")
    ensure_database(PG_PORT, url.database)
    database_url = url.render_as_string(hide_password=False)
    migrate_all(database_url)
    engine = make_engine(database_url, 4)
    yield SimpleNamespace(prefix=prefix, database_url=database_url, db=engine, bootstrap=infra.kafka_bootstrap)
    engine.dispose()


@pytest.fixture(scope="module")
def embedding(stack, tenancy):
    """The embedding service in this process, on the test's own topics and database."""
    from services.embedding.config import EmbeddingSettings
    from services.embedding.main import EmbeddingApp

    settings = EmbeddingSettings(
        grpc_port=0,
        metrics_port=0,
        tenancy_addr=tenancy,
        topic_prefix=stack.prefix,
        database_url=stack.database_url,
        voices_built_by_synthesis=False,
    )
    app = EmbeddingApp(settings)
    process = app.process().start()
    assert app.index_sync.caught_up.wait(60), "speaker index did not load"
    app.address = f"127.0.0.1:{process.port}"
    integration.wait_serving(app.address)
    yield app
    process.stop()


@pytest.fixture(scope="module")
def embedding_stub(embedding):
    from kit.grpc.client import open_channel
    from timbre.v1 import embedding_pb2_grpc

    channel = open_channel(embedding.address)
    yield embedding_pb2_grpc.EmbeddingServiceStub(channel)
    channel.close()


@pytest.fixture
def replicas(stack, embedding):
    """Factory: a speaker-index replica (a fresh index fed by the compacted topic from its start)."""
    from services.embedding.events.index_sync import IndexSync
    from services.embedding.index.speaker_index import SpeakerIndex

    started: list[Running] = []

    def start() -> SpeakerIndex:
        index = SpeakerIndex(embedding.index.dim)
        sync = IndexSync(index, stack.bootstrap, stack.prefix, embedding.index_sync.encoder)
        started.append(Running(sync))
        assert sync.caught_up.wait(60), "the replica did not catch up"
        return index

    yield start
    for running in started:
        running.close()


@pytest.fixture
def synthesis(stack, embedding, tenancy):
    """Synthesis's voice consumer, as a worker runs it (the fake engine builds): it reads the samples
    through embedding's ReadVoiceSample and keeps its own data keys in its own schema."""
    from kit.events.consumer import EventConsumer
    from kit.events.outbox import Outbox
    from kit.events.topics import VOICE_LIFECYCLE
    from kit.storage import open_store
    from services.synthesis.adapters.samples import EmbeddingSamples
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.events.handlers import voice_handlers
    from services.synthesis.service_layer.artifacts import Artifacts
    from services.synthesis.service_layer.voice_builds import VoiceBuilds
    from services.synthesis.storage.repository import SqlUnitOfWork
    from services.synthesis.storage.tables import SCHEMA
    from tests.fakes.engine import FakeEngine

    settings = SynthesisSettings(
        tenancy_addr=tenancy,
        embedding_addr=embedding.address,
        topic_prefix=stack.prefix,
        database_url=stack.database_url,
    )
    uow = SqlUnitOfWork(stack.db, Outbox(SCHEMA, settings.service_name))
    store = open_store(settings)  # the bucket embedding writes to
    vault = VoiceVault(store, settings.kek_ring())
    samples = EmbeddingSamples(settings, settings.service_name)
    voice_engine = FakeEngine()
    builds = VoiceBuilds(store, Artifacts(store, voice_engine, 4, vault=vault, uow=uow), voice_engine, samples=samples)
    consumer = EventConsumer(
        f"security-synthesis-voices-{uuid.uuid4().hex[:8]}",
        [VOICE_LIFECYCLE],
        voice_handlers(builds, uow),
        stack.db,
        SCHEMA,
        stack.bootstrap,
        stack.prefix,
    )
    running = Running(consumer)
    yield SimpleNamespace(vault=vault, samples=samples)
    running.close()


def spoken_consent(stub, token: str, voice_id: str) -> None:
    """joe reads the challenge (ASR, speaker check and watermark check: slow on a loaded machine)."""
    challenge = stub.CreateConsentChallenge(
        embedding_pb2.CreateConsentChallengeRequest(voice_id=voice_id, language="en"), metadata=bearer(token)
    )
    audio = samples.wav_bytes(samples.speak("joe", challenge.statement))

    def requests():
        yield embedding_pb2.SubmitConsentRequest(
            metadata=embedding_pb2.SubmitConsentMetadata(
                voice_id=voice_id, challenge_id=challenge.challenge_id, details=consent_details()
            )
        )
        yield embedding_pb2.SubmitConsentRequest(chunk=embedding_pb2.AudioChunk(data=audio))

    stub.SubmitConsent(requests(), metadata=bearer(token), timeout=300)


def data_key(engine, schema: str, voice_id: str):
    from kit.crypto.sql import SqlDataKeys, data_keys_table

    with engine.connect() as conn:
        return SqlDataKeys(conn, data_keys_table(sa.MetaData(schema=schema))).data_key(voice_id)


def embedding_column(engine, voice_id: str) -> tuple[str, bytes | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, embedding FROM embedding.voices WHERE id = :id"), {"id": voice_id}
        ).one()
    return row.status, row.embedding


def objects_of(store, tenant_id: str, voice_id: str) -> list[str]:
    prefixes = (
        sample_prefix(tenant_id, voice_id),
        f"consents/{tenant_id}/{voice_id}/",
        artifact_prefix(tenant_id, voice_id),
    )
    return [key for prefix in prefixes for key in store.list(prefix)]


def test_no_embedding_or_readable_object_of_a_deleted_or_revoked_voice_remains(
    stack, embedding, embedding_stub, issue, new_tenant, synthesis, replicas
):
    engine = stack.db
    store, embedding_vault = embedding.voices.store, embedding.voices.vault
    tenant_id, api_key, _ = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    live = replicas()  # follows the topic while the voices come and go

    voices: dict[str, str] = {}
    for how, passages in PASSAGES.items():
        voice = enroll_ready(embedding_stub, token, "joe", passages, name=how)
        assert voice.status == embedding_pb2.VOICE_STATUS_READY, voice.status_detail
        spoken_consent(embedding_stub, token, voice.voice_id)  # a consent recording is stored too
        voices[how] = voice.voice_id

    vectors, backups = {}, {}
    for voice_id in voices.values():
        wait_indexed(embedding, voice_id)
        until(lambda v=voice_id: v in live.snapshot(), "the live replica indexed the voice")
        until(lambda v=voice_id: data_key(engine, "synthesis", v), "synthesis built the voice", timeout=120)
        until(lambda v=voice_id: len(objects_of(store, tenant_id, v)) == 3, "sample, consent and artifact stored")
        status, vector = embedding_column(engine, voice_id)
        assert status == "ready" and vector is not None
        vectors[voice_id] = np.frombuffer(vector, dtype=np.float32)
        # The backup: the stored objects as they are; sealed, and readable while the keys exist.
        backups[voice_id] = {key: store.get(key) for key in objects_of(store, tenant_id, voice_id)}
        assert all(is_sealed(blob) for blob in backups[voice_id].values())
        for key, blob in backups[voice_id].items():
            vault, schema = (
                (synthesis.vault, "synthesis") if key.startswith("models/") else (embedding_vault, "embedding")
            )
            assert vault.open(data_key(engine, schema, voice_id), key, blob)

    a_sample = next(k for k in backups[voices["delete"]] if k.startswith("samples/"))
    with pytest.raises(grpc.RpcError) as denied:  # the decrypting read is for services, not tenants
        request = embedding_pb2.ReadVoiceSampleRequest(voice_id=voices["delete"], object_key=a_sample)
        list(embedding_stub.ReadVoiceSample(request, metadata=bearer(token)))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    embedding_stub.DeleteVoice(embedding_pb2.DeleteVoiceRequest(voice_id=voices["delete"]), metadata=bearer(token))
    embedding_stub.RevokeConsent(embedding_pb2.RevokeConsentRequest(voice_id=voices["revoke"]), metadata=bearer(token))

    assert embedding_column(engine, voices["delete"]) == ("deleted", None)
    assert embedding_column(engine, voices["revoke"]) == ("disabled", None)
    topic = full_name(stack.prefix, SPEAKER_INDEX.name)
    for voice_id in voices.values():
        assert data_key(engine, "embedding", voice_id) is None  # shredded with the status change
        until(lambda v=voice_id: data_key(engine, "synthesis", v) is None, "synthesis shredded its key")
        wait_indexed(embedding, voice_id, present=False)
        until(lambda v=voice_id: v not in live.snapshot(), "the live replica dropped the voice")
        until(lambda v=voice_id: not objects_of(store, tenant_id, v), "the objects were deleted")
        with pytest.raises(ObjectNotFound):
            synthesis.samples.read(voice_id, next(k for k in backups[voice_id] if k.startswith("samples/")))

    rebuilt = replicas()  # a replica started afterwards, from the topic's beginning
    records = read_all(topic, stack.bootstrap, quiet_seconds=1.0)
    for voice_id in voices.values():
        mine = [r for r in records if r.key() == voice_id.encode()]
        assert mine and mine[-1].value() is None, "the compacted topic's last record for the voice is a tombstone"
        assert voice_id not in rebuilt.snapshot()
        for index in (embedding.index, live, rebuilt):
            assert voice_id not in [m.voice_id for m in index.search(vectors[voice_id], 0.0, k=50)]
        for key, blob in backups[voice_id].items():  # the backup's copies no longer open: no key left
            vault, schema = (
                (synthesis.vault, "synthesis") if key.startswith("models/") else (embedding_vault, "embedding")
            )
            with pytest.raises(DataKeyShredded):
                vault.open(data_key(engine, schema, voice_id), key, blob)

    with pytest.raises(grpc.RpcError) as gone:
        embedding_stub.GetVoice(embedding_pb2.GetVoiceRequest(voice_id=voices["delete"]), metadata=bearer(token))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
