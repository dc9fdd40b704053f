"""The gRPC surface under bad bytes: every method of every service (enumerated from the generated
descriptors, so a new RPC is covered without touching this file) gets payloads that are not a message
of its request type, and one message beyond the server's receive limit.

A malformed payload must answer INVALID_ARGUMENT (with the ErrorInfo every bad input carries), an
oversized one RESOURCE_EXHAUSTED; never UNKNOWN or INTERNAL (which blame the server for the client's
bytes), never a hang (every call has a deadline). Calls carry a valid token: auth comes first, so an
anonymous caller learns nothing about its payload, and a malformed one must get past auth to be tested.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import descriptor, message_factory
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import timbre.v1
from kit.grpc.server import MAX_MESSAGE_BYTES
from kit.grpc.status import error_info
from tests.fuzz.api.figures import tally
from timbre.v1 import common_pb2, tenancy_pb2

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

DEADLINE_SECONDS = 20.0
TALLY = tally("grpc surface", "methods")

# Which fixture serves each service (tests/fuzz/api/conftest.py): a service missing here fails
# test_every_service_has_a_server, so a new service cannot slip past the fuzzer.
SERVERS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "timbre.v1.TenancyService": lambda r: r.getfixturevalue("tenancy"),
    "timbre.v1.BillingService": lambda r: r.getfixturevalue("billing"),
    "timbre.v1.UsageAnalyticsService": lambda r: r.getfixturevalue("billing"),
    "timbre.v1.EmbeddingService": lambda r: r.getfixturevalue("embedding").address,
    "timbre.v1.WatermarkService": lambda r: r.getfixturevalue("watermark")[0],
    "timbre.v1.SynthesisService": lambda r: r.getfixturevalue("synthesis_edge"),
}


@dataclass(frozen=True)
class Method:
    service: str
    name: str
    request_type: type
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    def parses(self, payload: bytes) -> bool:
        try:
            self.request_type.FromString(payload)
        except DecodeError:
            return False
        return True


def every_method() -> list[Method]:
    methods = []
    for module_info in pkgutil.iter_modules(timbre.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"timbre.v1.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for rpc in service.methods:
                methods.append(
                    Method(
                        service.full_name,
                        rpc.name,
                        message_factory.GetMessageClass(rpc.input_type),
                        rpc.client_streaming,
                        rpc.server_streaming,
                    )
                )
    return methods


METHODS = every_method()


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def first_string_field(method: Method) -> descriptor.FieldDescriptor | None:
    fields = method.request_type.DESCRIPTOR.fields
    return next((f for f in fields if f.type == descriptor.FieldDescriptor.TYPE_STRING and not f.is_repeated), None)


def corruptions(method: Method) -> list[bytes]:
    """Payloads broken in each way the wire format can break."""
    payloads = [
        b"\x00",  # field number 0 does not exist
        b"\x08",  # a varint field whose value never comes
        b"\xff" * 11,  # a tag longer than any varint
        b"\x0a\xff\xff\xff\xff\x0f",  # a length-delimited field claiming ~4 GiB
        b"\x0a\x05ab",  # ... claiming 5 bytes and carrying 2
        b"\x0f",  # wire type 7 does not exist
        b"\x0c",  # an end-group with no group open
    ]
    field = first_string_field(method)
    if field:  # proto3 strings must be UTF-8
        payloads.append(varint(field.number << 3 | 2) + b"\x02\xff\xfe")
    return payloads


class Surface:
    """Raw calls, bytes in and out: grpc's own (de)serialization is bypassed on the client."""

    def __init__(self, request: pytest.FixtureRequest, token: str) -> None:
        self._request = request
        self._token = token
        self._channels: dict[str, grpc.Channel] = {}

    def channel(self, method: Method) -> grpc.Channel:
        address = SERVERS[method.service](self._request)
        if address not in self._channels:
            # The client sends anything; only the server's limit is under test.
            self._channels[address] = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)])
        return self._channels[address]

    def code(self, method: Method, payload: bytes, authenticated: bool = True) -> tuple[grpc.StatusCode, str]:
        """The status the server answers `payload` with (OK if it answered with a message)."""
        TALLY.cases[method.path] += 1
        channel = self.channel(method)
        metadata = [("authorization", f"Bearer {self._token}")] if authenticated else []
        kind = {
            (False, False): channel.unary_unary,
            (False, True): channel.unary_stream,
            (True, False): channel.stream_unary,
            (True, True): channel.stream_stream,
        }[(method.client_streaming, method.server_streaming)]
        call = kind(method.path)  # no serializers: bytes travel as they are
        argument: bytes | Iterator[bytes] = iter([payload]) if method.client_streaming else payload
        try:
            reply = call(argument, timeout=DEADLINE_SECONDS, metadata=metadata)
            if method.server_streaming:
                for _ in reply:
                    pass
        except grpc.RpcError as error:
            info = error_info(error)
            return error.code(), info.reason if info else ""
        return grpc.StatusCode.OK, ""

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


@pytest.fixture(scope="module")
def surface(request, tenancy_stub, operator_token, issue, hypothesis_safe_modules):
    # A tenant's token: with the operator's, a streaming method may refuse the caller (no tenant scope)
    # before it reads the message under test.
    tenant = tenancy_stub.CreateTenant(
        tenancy_pb2.CreateTenantRequest(name=f"fuzz-grpc-{uuid.uuid4().hex[:8]}", tier=common_pb2.TIER_PRO),
        metadata=[("authorization", f"Bearer {operator_token}")],
    )
    surface = Surface(request, issue(tenancy_pb2.IssueTokenRequest(api_key=tenant.api_key_secret)))
    yield surface
    surface.close()


def test_every_service_has_a_server():
    services = {m.service for m in METHODS}
    assert services, "no services found in timbre.v1: run `make proto`"
    assert services <= set(SERVERS), f"add a server for {sorted(services - set(SERVERS))} to SERVERS"


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path)
def test_malformed_payloads_are_invalid_argument(surface, method):
    answers = {}
    for payload in corruptions(method):
        assert not method.parses(payload), f"{payload!r} is not malformed for {method.request_type.__name__}"
        answers[payload] = surface.code(method, payload)
    wrong = {p: a for p, a in answers.items() if a != (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")}
    TALLY.failures[method.path] += len(wrong)
    assert not wrong, f"{method.path} answered malformed payloads with {wrong}"


@pytest.mark.parametrize("method", [m for m in METHODS if first_string_field(m)], ids=lambda m: m.path)
def test_text_with_a_nul_character_is_invalid_argument(surface, method):
    """Well-formed, but no field of this API means anything with a NUL in it, and PostgreSQL cannot store
    one: refused at the edge, not an INTERNAL error from the database (found by the REST fuzzer)."""
    field = first_string_field(method)
    assert field is not None
    payload = varint(field.number << 3 | 2) + b"\x03a\x00b"
    assert method.parses(payload)
    answer = surface.code(method, payload)
    TALLY.failures[method.path] += answer != (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert answer == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path)
def test_random_bytes_that_do_not_parse_are_invalid_argument(surface, method):
    @settings(
        max_examples=15,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(payload=st.binary(min_size=1, max_size=64))
    def check(payload: bytes) -> None:
        assume(not method.parses(payload))
        answer = surface.code(method, payload)
        if answer != (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
            TALLY.failures[method.path] += 1
        assert answer == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")

    check()


def public_paths() -> set[str]:
    """The methods the services open to anonymous callers (token exchange, JWKS, Stripe's webhook, the voice
    owner's link)."""
    from services.billing.grpc_api.accounts import PUBLIC_METHODS as BILLING_PUBLIC
    from services.embedding.grpc_api.servicer import PUBLIC_METHODS as EMBEDDING_PUBLIC
    from services.tenancy.grpc_api.servicer import PUBLIC_METHODS as TENANCY_PUBLIC

    return {
        *BILLING_PUBLIC,
        *(f"/timbre.v1.TenancyService/{name}" for name in TENANCY_PUBLIC),
        *(f"/timbre.v1.EmbeddingService/{name}" for name in EMBEDDING_PUBLIC),
    }


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path)
def test_a_malformed_payload_without_a_token_learns_nothing_of_it(surface, method):
    """Auth comes before decoding: an anonymous caller hears UNAUTHENTICATED, not what was wrong with
    its bytes; public methods decode for anyone."""
    code, _ = surface.code(method, b"\x0f", authenticated=False)
    expected = grpc.StatusCode.INVALID_ARGUMENT if method.path in public_paths() else grpc.StatusCode.UNAUTHENTICATED
    TALLY.failures[method.path] += code != expected
    assert code == expected


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path)
def test_an_oversized_message_is_resource_exhausted(surface, method):
    code, _ = surface.code(method, bytes(MAX_MESSAGE_BYTES + 1))
    TALLY.failures[method.path] += code != grpc.StatusCode.RESOURCE_EXHAUSTED
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
