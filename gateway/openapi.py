"""The OpenAPI document, made to say what the gateway really answers: FastAPI documents only the
success of each route (and its own 422 shape, which the gateway replaces). Added here, per operation:
the bearer credential it takes (a tenant's API key, the operator secret, or a voice owner's link token)
and every error status it can answer, each as application/problem+json with the Problem schema."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.auth import operator_caller, tenant_caller
from gateway.problems import MEDIA_TYPE
from gateway.routes.owner import owner_caller
from gateway.routes.schemas import Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "a tenant's API key (tmb_…)"},
    "operatorSecret": {"type": "http", "scheme": "bearer", "description": "the operator secret"},
    "ownerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "a voice owner's private link token (tvo_…): opens its one consent (/v1/owner/...)",
    },
}
# Any route may fail unexpectedly (500); a route that calls a service may get any of the mapped gRPC
# statuses back (problems.HTTP_STATUS; 499 and 501 are left out: nobody hears a cancelled call's answer,
# and UNIMPLEMENTED only comes from a gateway newer than its services).
ANY_ROUTE = (500,)
UPSTREAM = (400, 403, 404, 409, 429, 503, 504)
AUTHENTICATED = (401, 429)
TENANT = (402,)  # a suspended tenant's keys answer 402 (TENANT_SUSPENDED)
UPLOAD = (413,)
# Tags of routes that call no service or answer its failure themselves (/health, /ready).
LOCAL_TAGS = {"operations"}


def document(app: FastAPI) -> None:
    """Replace `app.openapi` with a generator that adds credentials and problem responses."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate(), _credentials_of(app))
        assert app.openapi_schema is not None  # generate() stored it
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def complete(spec: dict[str, Any], credentials: dict[tuple[str, str], str]) -> None:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            scheme = credentials.get((path, method.upper()))
            if scheme:
                operation["security"] = [{scheme: []}]
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(operation, scheme):
                responses.setdefault(str(status), {})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    _as_problem(int(status), response)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in _refs(spec):
            schemas.pop(unused, None)


def _error_statuses(operation: dict[str, Any], scheme: str | None) -> set[int]:
    statuses = set(ANY_ROUTE)
    if not LOCAL_TAGS & set(operation.get("tags", ())):
        statuses.update(UPSTREAM)
    if scheme:
        statuses.update(AUTHENTICATED)
    if scheme == "apiKey":
        statuses.update(TENANT)
    if "requestBody" in operation:  # gateway/body_limit.py caps every body; uploads are capped per file too
        statuses.update(UPLOAD)
    return statuses


def _as_problem(status: int, response: dict[str, Any]) -> None:
    """An error response without a documented body of its own is problem+json; FastAPI's 422 (a JSON
    `detail` list) is replaced: the gateway answers validation errors as problems too."""
    response.setdefault("description", _phrase(status))
    content = response.get("content") or {}
    fastapi_422 = content.get("application/json", {}).get("schema", {}).get("$ref", "").endswith("HTTPValidationError")
    if not content or fastapi_422:
        response["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
    elif MEDIA_TYPE in content:
        content[MEDIA_TYPE].setdefault("schema", PROBLEM_REF)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _credentials_of(app: FastAPI) -> dict[tuple[str, str], str]:
    """(path, METHOD) → the security scheme of the route's credential dependency."""
    schemes: dict[Callable[..., Any], str] = {
        tenant_caller: "apiKey",
        operator_caller: "operatorSecret",
        owner_caller: "ownerToken",
    }
    found = {}
    # Included routers stay nested in app.routes; FastAPI's iterator yields the routes they hold.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        scheme = next((schemes[c] for c in _calls(route.dependant) if c in schemes), None)
        if scheme:
            for method in route.methods or ():
                found[(context.path_format or route.path_format, method)] = scheme
    return found


def _calls(dependant: Dependant) -> list[Callable[..., Any]]:
    calls = []
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            calls.append(dependency.call)
        calls.extend(_calls(dependency))
    return calls


def _refs(node: Any) -> set[str]:
    """The names of every schema referenced anywhere under `node`."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()
