"""gRPC isolation cases, generated from the timbre.v1 descriptors: every method of every service whose
request carries an id field (at any depth, oneof members included) is called with tenant A's ids.

Only the parts a request needs besides its ids (text, audio, consent terms) are written here, per
method; ids are found and filled from the descriptors, so a new RPC with an id is tried as it lands."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from cli import samples
from kit.grpc.status import error_info
from tests.isolation.world import Ids, consent_details
from timbre.v1 import (
    billing_pb2,
    common_pb2,
    embedding_pb2,
    synthesis_pb2,
    tenancy_pb2,
    watermark_pb2,
)

MODULES = (tenancy_pb2, embedding_pb2, synthesis_pb2, watermark_pb2, billing_pb2)
ID_FIELD = re.compile(r"(_id|_ids|^identifiers)$")

# Field name → the kind of A's object whose id it takes (attribute of `Ids`).
KIND_OF_FIELD = {
    "tenant_id": "tenant_id",
    "authorized_tenant_ids": "tenant_id",
    "voice_id": "voice_id",
    "consent_id": "consent_id",
    "challenge_id": "challenge_id",
    "job_id": "job_id",
    "generation_id": "generation_id",
    "webhook_id": "webhook_id",
    "key_id": "key_id",
    "reservation_id": "reservation_id",
    # Billing's dead letters are named by Stripe call identifiers; A's tenant id stands in (the RPC is
    # the operator's, refused to tenants before any identifier is read).
    "identifiers": "tenant_id",
}

# The operator's or internal services' methods: a tenant is refused for its role, before any id is
# read, so A's ids and unknown ids answer alike (PERMISSION_DENIED). Checked: same code as random ids.
PRIVILEGED = {
    "timbre.v1.TenancyService.ChangeTier": "operator: moves a tenant between tiers",
    "timbre.v1.TenancyService.ReserveQuota": "services: quota reservations",
    "timbre.v1.TenancyService.CommitQuota": "services: quota reservations",
    "timbre.v1.TenancyService.ReleaseQuota": "services: quota reservations",
    "timbre.v1.TenancyService.ReleaseVoiceProfile": "services: voice-profile quota",
    "timbre.v1.EmbeddingService.GrantWrittenConsent": "operator: records written consent for any voice",
    "timbre.v1.BillingService.ReplayBillingDeadLetters": "operator: billing dead letters",
    "timbre.v1.WatermarkService.Embed": "naming a generation_id is for services and the operator only",
    "timbre.v1.EmbeddingService.ReadVoiceSample": "services: synthesis reads enrollment samples to build voices",
}

# Methods where the id only narrows a listing of the caller's own objects: another tenant's id matches
# nothing, so the answer is an empty page (OK) — exactly the answer to an id that names nothing.
FILTERS = {
    "timbre.v1.EmbeddingService.ListAuditEvents": "voice_id filters the caller's own audit log",
}

# Id fields that only narrow the caller's own data in methods whose other ids still scope the call (so
# another tenant's ids answer NOT_FOUND as usual): the caller's own deleted object matches nothing (OK).
FILTER_FIELDS = {
    "timbre.v1.UsageAnalyticsService.QueryUsage": {
        "voice_id": "narrows the caller's own usage; a deleted voice's history is still the tenant's usage",
    },
}

# Public methods whose credential is the voice owner's link token in the request (docs/owner-portal.md),
# not an id nor an access token: a token that opens nothing answers NOT_FOUND, whoever calls.
OWNER_LINK = {
    "timbre.v1.EmbeddingService.GetOwnerConsent": "the owner link's token is the credential",
    "timbre.v1.EmbeddingService.RevokeOwnerConsent": "the owner link's token is the credential",
}

# Methods whose answer to another tenant's id is not NOT_FOUND by design, with the reason.
EXEMPT = {
    "timbre.v1.WatermarkService.GetProvenance": (
        "public by design (docs/api.md): anyone holding Timbre audio may learn that Timbre generated it "
        "and when; the owner's fields (tenant, voice, user) are shown to the owner only — checked"
    ),
}

# Kinds whose deleted objects A itself must no longer reach (a revoked key is not deleted: it stays
# listed with its revocation time, and revoking it again is idempotent).
DELETABLE = ("voice_id", "webhook_id")


def audio_chunk(message_class: type[Message]) -> Message:
    wav = samples.wav_bytes(samples.espeak("Isolation test audio."))
    return message_class(chunk=embedding_pb2.AudioChunk(file_index=0, filename="a.wav", data=wav))


def _speech(message: Message) -> None:
    message.text = "Hi."  # type: ignore[attr-defined]
    message.options.language = "en"  # type: ignore[attr-defined]


# What a request needs besides its ids, so that the id is the only thing standing between the caller
# and an answer. Keys: method full names (service.method).
NEEDS: dict[str, Callable[[Message], None]] = {
    "timbre.v1.SynthesisService.Synthesize": _speech,
    "timbre.v1.SynthesisService.SynthesizeStream": _speech,
    "timbre.v1.SynthesisService.SynthesizeLive": _speech,
    "timbre.v1.SynthesisService.SubmitJob": _speech,
    "timbre.v1.EmbeddingService.CreateConsentChallenge": lambda m: setattr(m, "language", "en"),
    "timbre.v1.EmbeddingService.SubmitConsent": lambda m: m.metadata.details.CopyFrom(consent_details()),  # type: ignore[attr-defined]
    "timbre.v1.EmbeddingService.GrantWrittenConsent": lambda m: (
        m.details.CopyFrom(consent_details()),  # type: ignore[attr-defined]
        setattr(m, "document_sha256", "cd" * 32),
    ),
    "timbre.v1.TenancyService.ChangeTier": lambda m: setattr(m, "tier", common_pb2.TIER_ENTERPRISE),
    "timbre.v1.TenancyService.ReserveQuota": lambda m: setattr(m, "characters", 1),
    "timbre.v1.TenancyService.CommitQuota": lambda m: setattr(m, "characters", 1),
    "timbre.v1.BillingService.GetUsageSummary": lambda m: None,
    "timbre.v1.UsageAnalyticsService.QueryUsage": lambda m: setattr(m, "group_by", "voice"),
    "timbre.v1.WatermarkService.Embed": lambda m: setattr(
        m, "audio", samples.wav_bytes(samples.espeak("Marked audio for the isolation test."))
    ),
}


@dataclass(frozen=True)
class Method:
    service: str  # e.g. timbre.v1.EmbeddingService
    descriptor: MethodDescriptor

    @property
    def name(self) -> str:
        return f"{self.service}.{self.descriptor.name}"

    @property
    def id_fields(self) -> list[str]:
        return id_paths(self.descriptor.input_type)


def methods() -> Iterator[Method]:
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield Method(service.full_name, method)


def id_paths(descriptor: Descriptor, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths of the id fields in a message type, nested messages (and oneof members) included."""
    found: list[str] = []
    for field in descriptor.fields:
        path = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            inner = field.message_type
            if depth < 4 and not inner.full_name.startswith("google.protobuf.") and not field.is_repeated:
                found += id_paths(inner, path + ".", depth + 1)
        elif ID_FIELD.search(field.name):
            found.append(path)
    return found


def _set(message: Message, path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        message = getattr(message, name)
    field = message.DESCRIPTOR.fields_by_name[leaf]
    if field.is_repeated:
        getattr(message, leaf).append(value)
    else:
        setattr(message, leaf, value)


def kind_of(path: str) -> str | None:
    return KIND_OF_FIELD.get(path.rsplit(".", 1)[-1])


def build_request(method: Method, ids: Ids) -> Message | list[Message]:
    """The request (a list of messages for client streams) with every id field set from `ids`."""
    request_class = GetMessageClass(method.descriptor.input_type)
    message = request_class()
    NEEDS.get(method.name, lambda m: None)(message)
    for path in method.id_fields:
        kind = kind_of(path)
        assert kind, f"{method.name}: no kind of id known for field {path}: add it to KIND_OF_FIELD"
        value = getattr(ids, kind)
        leaf = path.rsplit(".", 1)[-1]
        owner = message
        for name in path.split(".")[:-1]:
            owner = getattr(owner, name)
        if owner.DESCRIPTOR.fields_by_name[leaf].type == FieldDescriptor.TYPE_STRING:
            value = str(value)
        _set(message, path, value)
    if "idempotency_key" in message.DESCRIPTOR.fields_by_name:
        message.idempotency_key = ids.idempotency_key  # type: ignore[attr-defined]
    if not method.descriptor.client_streaming:
        return message
    if "chunk" not in request_class.DESCRIPTOR.fields_by_name:
        return [message]  # a live session: its opening message (with its text) is the whole input
    return [message, audio_chunk(request_class)]


def call(stub, method: Method, request, token: str):
    """Run the call to its end (streams drained); the answer, or the grpc.RpcError it ended with."""
    metadata = [("authorization", f"Bearer {token}")]
    function = getattr(stub, method.descriptor.name)
    try:
        if method.descriptor.client_streaming:
            reply = function(iter(request), metadata=metadata)
        else:
            reply = function(request, metadata=metadata)
        if method.descriptor.server_streaming:
            return list(reply)
        return reply
    except grpc.RpcError as error:
        return error


def code_of(outcome) -> grpc.StatusCode:
    return outcome.code() if isinstance(outcome, grpc.RpcError) else grpc.StatusCode.OK


def answer_text(outcome) -> str:
    """What the caller learns: the answer, or the error's message and ErrorInfo (reason, metadata)."""
    if isinstance(outcome, grpc.RpcError):
        return f"{outcome.details()} {error_info(outcome)}"
    return str(outcome)


def masked(text: str, ids: Ids) -> str:
    """`text` with the ids of `ids` replaced by a placeholder: answers to two sets of ids compare equal
    when they differ only by echoing the ids each request sent."""
    for value in sorted({str(v) for v in vars(ids).values() if v}, key=len, reverse=True):
        text = text.replace(value, "<id>")
    return text


def leaked(answer: str, request, known: list[str]) -> list[str]:
    """Ids of `known` that the answer carries although the request did not."""
    sent = str(request)
    return [i for i in known if i in answer and i not in sent]


def unknown_ids(ids: Ids) -> Ids:
    """Well-formed ids that name nothing: what an id of another tenant must be indistinguishable from."""
    import uuid

    return replace(
        ids,
        tenant_id=str(uuid.uuid4()),
        voice_id=str(uuid.uuid4()),
        consent_id=str(uuid.uuid4()),
        challenge_id=str(uuid.uuid4()),
        job_id=str(uuid.uuid4()),
        generation_id=ids.generation_id ^ 0x5A5A,
        webhook_id=str(uuid.uuid4()),
        key_id=str(uuid.uuid4()),
        reservation_id=str(uuid.uuid4()),
    )
