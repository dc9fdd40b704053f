"""Every RPC that takes an id, called by tenant B with tenant A's ids: NOT_FOUND, exactly like an id that
names nothing (never OK; PERMISSION_DENIED only where B's role is refused whatever the id, for
operator and service methods); A's deleted objects are NOT_FOUND to A too."""

from __future__ import annotations

import grpc
import pytest

from tests.isolation import counts
from tests.isolation.grpc_cases import (
    DELETABLE,
    EXEMPT,
    FILTER_FIELDS,
    FILTERS,
    OWNER_LINK,
    PRIVILEGED,
    Method,
    answer_text,
    build_request,
    call,
    code_of,
    leaked,
    masked,
    methods,
    unknown_ids,
)
from timbre.v1 import embedding_pb2, synthesis_pb2, tenancy_pb2, watermark_pb2

# The first test also builds the world (about 2 minutes alone, more on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def with_ids() -> list[Method]:
    return [m for m in methods() if m.id_fields]


def test_the_generated_cases_cover_every_method_with_an_id():
    names = {m.name for m in methods()}
    covered = {m.name for m in with_ids()}
    # Stale exemptions would hide a renamed method: each must name a method that takes an id.
    listed = set(PRIVILEGED) | set(EXEMPT) | set(FILTERS) | set(FILTER_FIELDS)
    assert listed <= covered, listed - covered
    assert set(OWNER_LINK) <= names - covered, "the owner link's methods take a token, not an id"
    # Every id-taking method is tried (the generator needs no list of them); this pins the known ones
    # so that a descriptor walk gone blind (no ids found) fails here rather than passing vacuously.
    for expected in (
        "timbre.v1.EmbeddingService.GetVoice",
        "timbre.v1.EmbeddingService.VerifySpeaker",  # client stream, id in a oneof
        "timbre.v1.EmbeddingService.SubmitConsent",  # client stream, ids in a nested message
        "timbre.v1.SynthesisService.SynthesizeStream",  # server stream
        "timbre.v1.SynthesisService.ReadJobAudio",
        "timbre.v1.TenancyService.RevokeApiKey",
        "timbre.v1.BillingService.GetBillingView",
        "timbre.v1.UsageAnalyticsService.QueryUsage",
    ):
        assert expected in covered and expected in names
    assert len(covered) >= 30, sorted(covered)


def test_tenant_b_with_tenant_a_ids_gets_not_found_from_every_rpc(world):
    """A's live ids, then A's deleted ones: each answer equals the answer to ids naming nothing, and
    carries none of A's ids that B did not send (error messages and ErrorInfo metadata included)."""
    b_token = world.b.token
    known = world.a_id_strings()
    failures = []
    tried = 0
    for ids in (world.ids, world.deleted_ids()):
        for method in with_ids():
            if method.name in EXEMPT:
                continue  # checked on its own below
            stub = world.stubs.by_service(method.service)
            request, nobody = build_request(method, ids), unknown_ids(ids)
            outcome = call(stub, method, request, b_token)
            stranger = call(stub, method, build_request(method, nobody), b_token)
            tried += 1
            got, unknown = code_of(outcome), code_of(stranger)
            if masked(answer_text(outcome), ids) != masked(answer_text(stranger), nobody):
                failures.append(f"{method.name}: {answer_text(outcome)!r} differs from {answer_text(stranger)!r}")
                continue
            expected = grpc.StatusCode.NOT_FOUND
            if method.name in PRIVILEGED:
                expected = grpc.StatusCode.PERMISSION_DENIED
            elif method.name in FILTERS:
                expected = grpc.StatusCode.OK
            if got != expected or unknown != got:
                failures.append(
                    f"{method.name}: A's ids → {got.name} ({answer_text(outcome)[:200]}); unknown ids → {unknown.name}"
                )
            elif carried := leaked(answer_text(outcome), request, known):
                failures.append(f"{method.name}: the answer names A's {carried}: {answer_text(outcome)[:200]}")
    counts.add("gRPC: B with A's ids", tried)
    assert not failures, "\n".join(failures)


def test_provenance_of_a_generation_shows_its_owner_only_to_the_owner(world):
    request = watermark_pb2.GetProvenanceRequest(generation_id=world.ids.generation_id)
    theirs = world.stubs.watermark.GetProvenance(request, metadata=[("authorization", f"Bearer {world.b.token}")])
    mine = world.stubs.watermark.GetProvenance(request, metadata=[("authorization", f"Bearer {world.a.token}")])
    counts.add("gRPC: B with A's ids", 1)
    assert mine.full_record and mine.provenance.tenant_id == world.a.tenant_id
    assert mine.provenance.voice_id == world.ids.voice_id
    assert not theirs.full_record
    leaked = {"tenant_id", "voice_id", "user_id"} & {f.name for f, _ in theirs.provenance.ListFields()}
    assert not leaked, theirs


def test_deleted_objects_are_not_found_to_their_owner(world):
    a_token = world.a.token
    gone = world.deleted_ids()
    failures = []
    tried = 0
    for method in with_ids():
        kinds = {path.rsplit(".", 1)[-1] for path in method.id_fields} - set(FILTER_FIELDS.get(method.name, {}))
        if not kinds & set(DELETABLE) or method.name in PRIVILEGED or method.name in FILTERS:
            continue
        outcome = call(world.stubs.by_service(method.service), method, build_request(method, gone), a_token)
        tried += 1
        if code_of(outcome) != grpc.StatusCode.NOT_FOUND:
            failures.append(f"{method.name}: {code_of(outcome).name} {outcome}"[:300])
    counts.add("gRPC: A with its deleted ids", tried)
    assert tried >= 10
    assert not failures, "\n".join(failures)


def test_a_objects_survive_b_attempts_and_stay_a_own(world):
    """Runs after B's deletes, cancels and revocations were tried: none of them touched A's objects."""
    meta = [("authorization", f"Bearer {world.a.token}")]
    voice = world.stubs.embedding.GetVoice(embedding_pb2.GetVoiceRequest(voice_id=world.ids.voice_id), metadata=meta)
    assert voice.voice.status == embedding_pb2.VOICE_STATUS_READY and voice.voice.has_active_consent
    job = world.stubs.synthesis.GetJob(synthesis_pb2.GetJobRequest(job_id=world.ids.job_id), metadata=meta)
    assert job.job.state == synthesis_pb2.JOB_STATE_SUCCEEDED
    hooks = world.stubs.synthesis.ListWebhooks(synthesis_pb2.ListWebhooksRequest(), metadata=meta).webhooks
    assert world.ids.webhook_id in {h.webhook_id for h in hooks}
    assert world.deleted.webhook_id not in {h.webhook_id for h in hooks}
    keys = {
        k.key_id: k for k in world.stubs.tenancy.ListApiKeys(tenancy_pb2.ListApiKeysRequest(), metadata=meta).api_keys
    }
    assert not keys[world.ids.key_id].HasField("revoke_time")
    voices = world.stubs.embedding.ListVoices(embedding_pb2.ListVoicesRequest(), metadata=meta).voices
    assert world.deleted.voice_id not in {v.voice_id for v in voices}


def test_b_listings_and_reads_without_ids_show_nothing_of_a(world):
    """The methods that take no id answer from the caller's own tenant: nothing of A's appears."""
    b_token = world.b.token
    a_ids = [
        str(v)
        for v in (
            world.ids.tenant_id,
            world.ids.voice_id,
            world.ids.consent_id,
            world.ids.job_id,
            world.ids.generation_id,
            world.ids.webhook_id,
            world.ids.key_id,
            world.a.key_id,
        )
    ]
    tried = 0
    for method in methods():
        if method.id_fields or method.descriptor.client_streaming:
            continue
        if not method.descriptor.name.startswith(("List", "Get", "Query")):
            continue  # creations and token grants: nothing of anyone's to read back
        outcome = call(world.stubs.by_service(method.service), method, build_request(method, world.ids), b_token)
        tried += 1
        if method.name in OWNER_LINK:  # no token in the request: it opens nothing, for anyone
            assert code_of(outcome) == grpc.StatusCode.NOT_FOUND, (method.name, outcome)
            continue
        if isinstance(outcome, grpc.RpcError):
            assert outcome.code() == grpc.StatusCode.PERMISSION_DENIED, (method.name, outcome)
            continue
        text = str(outcome)
        assert not [i for i in a_ids if i in text], (method.name, text[:500])
    counts.add("gRPC: B listings", tried)
    assert tried >= 5
