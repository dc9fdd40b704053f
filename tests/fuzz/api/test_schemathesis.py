"""Schemathesis against the gateway's own /openapi.json: every operation, on the real services, with a
valid credential (the one the operation's `security` names: a tenant's API key or the operator secret).

Each case must hold: no 5xx; the status, content type and body are the ones the document declares for
the operation; and every 4xx/5xx is application/problem+json (unless the document gives that status
another body: /ready's 503 is its checks). Positive then negative cases for each operation, valid JSON
bodies with lone surrogates in their text, then a stateful run along the links schemathesis infers
between operations (create a key → revoke it, create a tenant → change its tier, ...).

Bounded for CI: a fixed number of examples per operation, derandomized, no example database. The figures
(operations, cases, failures) are printed at the end of the run (conftest.pytest_terminal_summary).

Excluded: cases whose path parameter is empty (addresses_its_operation: such a URL names another
resource). Each stateful scenario runs as a new tenant: a step may revoke the key it calls
with (list keys → revoke one), which would leave the rest of the run answering 401.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.problems import MEDIA_TYPE
from tests.fuzz.api.figures import tally
from tests.integration.conftest import bearer
from timbre.v1 import common_pb2, tenancy_pb2

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

EXAMPLES_PER_OPERATION = 40
STATEFUL_SCENARIOS = 50
SURROGATE_EXAMPLES = 5
STATEFUL_STEPS = 10


TALLY = tally("schemathesis", "operations")


def problem_json(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """Every error answer is problem+json with its status repeated, unless the document declares another
    body for that status (then content_type_conformance holds it to that)."""
    if response.status_code < 400:
        return True
    declared = case.operation.definition.raw.get("responses", {}).get(str(response.status_code), {})
    media_types = set(declared.get("content", {}))
    if media_types and MEDIA_TYPE not in media_types:
        return True
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(MEDIA_TYPE), f"a {response.status_code} answered as {content_type!r}"
    body = response.json()
    assert body.get("status") == response.status_code, (
        f"problem status {body.get('status')} in a {response.status_code}"
    )
    assert body.get("title") and body.get("type"), f"problem without title or type: {body}"
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json,
]


class Credentials:
    """The Authorization header each operation's `security` asks for: a tenant's API key (a fresh tenant
    whenever `renew` is called), the operator secret, or a voice owner's link token (a well-formed one that
    opens nothing: the owner routes answer it 404, as they do any unknown link)."""

    def __init__(self, new_tenant_key: Callable[[], str], operator_secret: str) -> None:
        self._new_tenant_key = new_tenant_key
        self._by_scheme = {
            "apiKey": new_tenant_key(),
            "operatorSecret": operator_secret,
            "ownerToken": "tvo_" + secrets.token_urlsafe(32),
        }

    def renew(self) -> None:
        self._by_scheme["apiKey"] = self._new_tenant_key()

    def headers(self, case: schemathesis.Case) -> dict[str, str]:
        requirements = case.operation.definition.raw.get("security", [])
        for requirement in requirements:
            for scheme in requirement:
                return {"Authorization": f"Bearer {self._by_scheme[scheme]}"}
        return {}


# One app per test: schemathesis' pytest plugin ends the lifespan of every ASGI app it reached when a
# test ends, and the gateway's lifespan closes its channels.
@pytest.fixture
def gateway_app(tenancy, billing, embedding, watermark, synthesis_edge):
    from gateway.app import create_app
    from gateway.config import GatewaySettings

    # The rate limit would turn most cases into 429s: the limiter has tests of its own.
    settings = GatewaySettings(
        tenancy_addr=tenancy,
        billing_addr=billing,
        embedding_addr=embedding.address,
        watermark_addr=watermark[0],
        synthesis_addr=synthesis_edge,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        owner_rate_limit_per_second=10_000,
        owner_rate_limit_burst=10_000,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def credentials(tenancy_stub, issue, settings) -> Credentials:
    operator_secret = settings.operator_secret.get_secret_value()

    def new_tenant_key() -> str:
        operator = issue(tenancy_pb2.IssueTokenRequest(operator_secret=operator_secret))  # never expired
        reply = tenancy_stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=f"fuzz-{uuid.uuid4().hex[:8]}", tier=common_pb2.TIER_PRO),
            metadata=bearer(operator),
        )
        return reply.api_key_secret

    return Credentials(new_tenant_key, operator_secret)


@pytest.fixture
def api_schema(gateway_app):
    return schemathesis.openapi.from_asgi("/openapi.json", gateway_app)


def addresses_its_operation(case: schemathesis.Case) -> bool:
    """False when a path parameter is empty (a link can carry an empty id, e.g. the cost report's
    overall tenant_id): PATCH /v1/tenants/ is the collection's URL, answered 405, not the operation."""
    return all(str(value) != "" for value in (case.path_parameters or {}).values())


def call_and_check(case: schemathesis.Case, credentials: Credentials) -> schemathesis.Response:
    hypothesis.assume(addresses_its_operation(case))
    operation = f"{case.method.upper()} {case.path}"
    TALLY.cases[operation] += 1
    response = case.call(headers=credentials.headers(case))
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException:  # schemathesis raises its failures as a (Base)ExceptionGroup
        TALLY.failures[operation] += 1
        raise
    return response


def modes_of(operation: schemathesis.APIOperation) -> list[schemathesis.GenerationMode]:
    """Positive cases for every operation; negative ones where there is an input to break (an operation
    without parameters or body has no invalid request)."""
    raw = operation.definition.raw
    if raw.get("parameters") or raw.get("requestBody"):
        return [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return [schemathesis.GenerationMode.POSITIVE]


def test_every_operation(api_schema, credentials, hypothesis_safe_modules):
    """Each operation in turn, positive cases then negative ones. (A loop rather than schemathesis'
    pytest plugin: its lazy-fixture schemas need pytest < 9.)"""
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30, "the document lost operations"
    before = sum(TALLY.cases.values())
    for operation in operations:
        for mode in modes_of(operation):

            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(mode))
            def fuzz(case: schemathesis.Case) -> None:
                call_and_check(case, credentials)

            try:
                fuzz()
            except (Exception, BaseExceptionGroup) as error:  # collected: every operation is tried, all shown
                failures.append(f"{operation.label} ({mode.value}): {error}")
    TALLY.notes.append(f"every operation: {sum(TALLY.cases.values()) - before} positive and negative cases")
    assert not failures, "\n\n".join(failures)


def with_lone_surrogates(value: Any) -> Any:
    """`value` with every string replaced by one holding a lone UTF-16 surrogate."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, list):
        return [with_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {key: with_lone_surrogates(item) for key, item in value.items()}
    return value


def test_lone_surrogates_in_json_bodies(api_schema, credentials, hypothesis_safe_modules):
    """Schemathesis generates only UTF-8-encodable text, but JSON can carry a lone surrogate (\\ud800) that
    Python decodes into a str no protobuf string can hold (UnicodeEncodeError: a 500 if it got that far).
    Valid bodies of every JSON operation, each string spoiled so, must be refused as 4xx problems."""
    operations = [
        result.ok()
        for result in api_schema.get_all_operations()
        if "application/json" in result.ok().definition.raw.get("requestBody", {}).get("content", {})
    ]
    assert len(operations) >= 8, [o.label for o in operations]
    before = sum(TALLY.cases.values())
    failures = []
    for operation in operations:

        @hypothesis.settings(
            max_examples=SURROGATE_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(schemathesis.GenerationMode.POSITIVE))
        def fuzz(case: schemathesis.Case) -> None:
            hypothesis.assume(isinstance(case.body, dict))  # optional bodies may be absent
            # Sent as JSON text (\\ud800 escapes): no client encodes the surrogate itself into UTF-8.
            spoiled = with_lone_surrogates(case.body)
            has_text = spoiled != case.body
            case.body = json.dumps(spoiled).encode()
            response = call_and_check(case, credentials)
            if has_text:
                assert 400 <= response.status_code < 500, f"{response.status_code} to text no service can hold"

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as error:  # collected: every operation is tried, all shown
            failures.append(f"{operation.label}: {error}")
    TALLY.notes.append(f"lone surrogates: {sum(TALLY.cases.values()) - before} cases")
    assert not failures, "\n\n".join(failures)


def test_stateful_links(api_schema, credentials, hypothesis_safe_modules):
    """Sequences of calls along the links schemathesis infers from the document (an id one operation
    answers is the path parameter of another), each call under the same checks."""
    machine = api_schema.as_state_machine()
    # Hypothesis marks each rule of a state machine; schemathesis names its entry points root_rules.
    rules = [name for name, value in vars(machine).items() if hasattr(value, "hypothesis_stateful_rule")]
    transitions = [name for name in rules if name not in machine.root_rules]
    assert transitions, "schemathesis found no links between operations: stateful testing tests nothing"

    class Fuzz(machine):  # type: ignore[misc, valid-type]  # a class schemathesis built at run time
        def setup(self) -> None:
            credentials.renew()  # each scenario its own tenant: an earlier one may have revoked its key

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            hypothesis.assume(addresses_its_operation(case))
            return {"headers": credentials.headers(case)}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            operation = f"{case.method.upper()} {case.path}"
            TALLY.cases[operation] += 1
            steps[0] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException:  # schemathesis raises its failures as a (Base)ExceptionGroup
                TALLY.failures[operation] += 1
                raise

    steps = [0]
    Fuzz.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    TALLY.notes.append(f"stateful: {steps[0]} steps over {len(transitions)} inferred links")
