"""REST isolation cases, generated from the gateway's OpenAPI document: every (method, path) that takes
an id — in its path, its query string or its body (JSON or multipart form) — is called with tenant A's
ids filled in by the parameter's name.

What a request needs besides its ids (text, audio, consent terms) is written here per route, so that
the id is the only thing between the caller and an answer. A route whose id has no kind below, or whose
answer to a stranger is not 404 by design, must be listed in OPERATOR or EXEMPT with its reason."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cli import samples
from tests.isolation.world import Ids

ID_NAME = re.compile(r"(_id|_ids|^identifiers)$")

KIND_OF_NAME = {
    "tenant_id": "tenant_id",
    "authorized_tenant_ids": "tenant_id",
    "voice_id": "voice_id",
    "challenge_id": "challenge_id",
    "job_id": "job_id",
    "generation_id": "generation_id",
    "webhook_id": "webhook_id",
    "key_id": "key_id",
    "identifiers": "tenant_id",  # billing dead letters: operator only (see OPERATOR)
}

# Operator routes: a tenant's API key is not the operator secret, so they answer 401 to a tenant
# before any id is read — the same for A's ids and for ids that name nothing. Checked as such.
OPERATOR = {
    ("PATCH", "/v1/tenants/{tenant_id}"): "operator: moves a tenant between tiers",
    ("GET", "/v1/admin/usage"): "operator: usage of any tenant (tenant_id in the query)",
    ("POST", "/v1/admin/billing/dead-letters/replay"): "operator: replays Stripe dead letters by identifier",
}

# Routes whose answer to another tenant's id is not 404 by design.
EXEMPT = {
    ("GET", "/v1/generations/{generation_id}/provenance"): (
        "public by design (docs/api.md): whoever holds Timbre audio may learn that Timbre generated it and "
        "when; tenant, voice and user are shown to the owner only — checked by its own test"
    ),
}

# Routes where the id only narrows a listing of the caller's own objects: another tenant's id matches
# nothing (200, no items) — exactly the answer to an id that names nothing. Checked as such.
FILTERS = {
    ("GET", "/v1/audit"): "voice_id filters the caller's own audit log",
    ("GET", "/v1/usage"): "voice_id filters the caller's own usage",
}

# Kinds whose deleted objects their owner must no longer reach.
DELETABLE = ("voice_id", "webhook_id")


def _wav() -> bytes:
    return samples.wav_bytes(samples.espeak("Isolation test audio."))


def _consent_form() -> dict[str, Any]:
    return {
        "owner_name": "Owner",
        "purpose": "isolation tests",
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "prohibited_uses_acknowledged": [
            "fraud_impersonation",
            "non_consensual_content",
            "political_manipulation",
            "harassment_defamation",
            "undisclosed_deepfake",
        ],
    }


# (method, path) → request parts besides the ids; a list gives several variants of one route.
NEEDS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("POST", "/v1/voices/{voice_id}/speech"): [
        {"json": {"text": "Hi.", "language": "en", "format": "wav"}},
        {"json": {"text": "Hi.", "language": "en", "format": "wav", "stream": True}},
    ],
    ("POST", "/v1/jobs"): [{"json": {"text": "Hi.", "language": "en", "format": "wav"}}],
    ("POST", "/v1/voices/{voice_id}/verify"): [{"files": {"file": ("a.wav", b"<wav>", "audio/wav")}}],
    ("POST", "/v1/voices/{voice_id}/consent"): [
        {"data": _consent_form(), "files": {"file": ("consent.wav", b"<wav>", "audio/wav")}}
    ],
    ("POST", "/v1/voices/{voice_id}/consent/challenge"): [{"json": {"language": "en"}}, {}],
    ("PATCH", "/v1/tenants/{tenant_id}"): [{"json": {"tier": "enterprise"}}],
    ("GET", "/v1/jobs/{job_id}/audio"): [{}, {"headers": {"Range": "bytes=0-9"}}, {"headers": {"Range": "bytes=-4"}}],
    ("POST", "/v1/admin/billing/dead-letters/replay"): [{"json": {}}],
}


@dataclass(frozen=True)
class Slot:
    """One place a route takes an id: (method, path, where: path|query|json|form, name)."""

    method: str
    path: str
    where: str
    name: str


@dataclass
class Route:
    method: str
    path: str
    slots: list[Slot] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


def _resolve(spec: dict, schema: dict) -> dict:
    for option in schema.get("anyOf", []):
        if "$ref" in option:
            schema = option
            break
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def routes_with_ids(spec: dict) -> list[Route]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            route = Route(method.upper(), path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query") and ID_NAME.search(parameter["name"]):
                    route.slots.append(Slot(route.method, path, parameter["in"], parameter["name"]))
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                where = "json" if media == "application/json" else "form"
                for name in _resolve(spec, content["schema"]).get("properties", {}):
                    if ID_NAME.search(name):
                        route.slots.append(Slot(route.method, path, where, name))
            if route.slots:
                found.append(route)
    return found


def requests_for(route: Route, ids: Ids) -> list[tuple[str, dict[str, Any]]]:
    """(url, keyword arguments of httpx's request) for each variant of the route, ids filled in."""
    variants = []
    for needs in NEEDS.get(route.key, [{}]):
        kwargs = copy.deepcopy(needs)
        url = route.path
        for slot in route.slots:
            kind = KIND_OF_NAME.get(slot.name)
            assert kind, f"{route.key}: no kind of id known for {slot.where} field {slot.name}: add it to KIND_OF_NAME"
            value = getattr(ids, kind)
            if slot.where == "path":
                url = url.replace("{" + slot.name + "}", str(value))
            elif slot.where == "query":
                kwargs.setdefault("params", {})[slot.name] = str(value)
            else:
                body = kwargs.setdefault("json" if slot.where == "json" else "data", {})
                body[slot.name] = (
                    [str(value)] if slot.name.endswith("_ids") or slot.name == "identifiers" else str(value)
                )
        for name, (filename, data, media) in kwargs.get("files", {}).items():
            if data == b"<wav>":
                kwargs["files"][name] = (filename, _wav(), media)
        variants.append((url, kwargs))
    return variants
