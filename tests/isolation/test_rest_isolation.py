"""Every gateway route that takes an id, called by tenant B with tenant A's ids: 404 problem+json, the
same answer as for ids that name nothing (never 200, never 403); A's deleted objects are 404 to A."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.isolation import counts
from tests.isolation.grpc_cases import masked, unknown_ids
from tests.isolation.rest_cases import (
    DELETABLE,
    EXEMPT,
    FILTERS,
    KIND_OF_NAME,
    OPERATOR,
    requests_for,
    routes_with_ids,
)
from tests.isolation.world import Ids

# The first test also builds the world (about 2 minutes alone, more on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def spec() -> dict:
    return create_app(GatewaySettings()).openapi()


def answer(rest, url: str, kwargs: dict, method: str, api_key: str):
    headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {api_key}"}
    return rest.request(method, url, headers=headers, **kwargs)


def outcome(reply, ids: Ids) -> tuple[int, str | None, str | None]:
    """Status, problem reason and detail (the ids the request sent masked): what a caller may learn."""
    if not reply.headers.get("content-type", "").startswith("application/problem+json"):
        return reply.status_code, None, None
    body = reply.json()
    return reply.status_code, body.get("reason"), masked(str(body.get("detail")), ids)


def test_every_route_with_an_id_is_covered_or_exempt_with_a_reason():
    routes = routes_with_ids(spec())
    keys = {r.key for r in routes}
    unknown = [(s.method, s.path, s.where, s.name) for r in routes for s in r.slots if s.name not in KIND_OF_NAME]
    assert not unknown, f"ids without a kind (add to KIND_OF_NAME, the world, or exempt the route): {unknown}"
    stale = (set(OPERATOR) | set(EXEMPT) | set(FILTERS)) - keys
    assert not stale, f"exemptions for routes that take no id (any more): {stale}"
    assert all(reason.strip() for reason in {**OPERATOR, **EXEMPT, **FILTERS}.values())
    # The walk finds ids in paths, query strings and bodies (a blind walk fails here, not silently).
    where = {s.where for r in routes for s in r.slots}
    assert {"path", "query", "json", "form"} <= where, where
    assert len(keys) >= 17, sorted(keys)


def test_tenant_b_with_tenant_a_ids_gets_404_from_every_route(world, rest):
    """A's live ids, then A's deleted ones: each answer equals the answer to ids naming nothing, and
    carries none of A's ids that B did not send."""
    known = world.a_id_strings()
    failures, tried = [], 0
    for ids in (world.ids, world.deleted_ids()):
        strangers = unknown_ids(ids)
        for route in routes_with_ids(spec()):
            if route.key in EXEMPT:
                continue
            mine = requests_for(route, ids)
            nobody = requests_for(route, strangers)
            for (url, kwargs), (stranger_url, stranger_kwargs) in zip(mine, nobody, strict=True):
                tried += 1
                sent, where = f"{url} {kwargs}", f"{route.method} {url} {kwargs.get('headers', '')}"
                got = answer(rest, url, kwargs, route.method, world.b.api_key)
                unknown = answer(rest, stranger_url, stranger_kwargs, route.method, world.b.api_key)
                expected = 401 if route.key in OPERATOR else 200 if route.key in FILTERS else 404
                if outcome(got, ids) != outcome(unknown, strangers) or got.status_code != expected:
                    failures.append(
                        f"{where}: {got.status_code} {got.text[:200]} "
                        f"(unknown ids: {unknown.status_code} {unknown.text[:200]})"
                    )
                elif expected == 404 and got.json().get("status") != 404:
                    failures.append(f"{where}: not a problem+json 404: {got.text[:200]}")
                elif carried := [i for i in known if i in got.text and i not in sent]:
                    failures.append(f"{where}: the answer names A's {carried}: {got.text[:200]}")
    counts.add("REST: B with A's ids", tried)
    assert not failures, "\n".join(failures)


def test_provenance_of_a_generation_shows_its_owner_only_to_the_owner(world, rest):
    url = f"/v1/generations/{world.ids.generation_id}/provenance"
    theirs = rest.get(url, headers=world.b.headers)
    mine = rest.get(url, headers=world.a.headers)
    counts.add("REST: B with A's ids", 1)
    assert mine.status_code == 200 and mine.json()["full_record"] and mine.json()["tenant_id"] == world.a.tenant_id
    assert theirs.status_code == 200, theirs.text
    body = theirs.json()
    assert not body["full_record"] and not any(body.get(k) for k in ("tenant_id", "voice_id", "user_id")), body


def test_deleted_objects_are_404_to_their_owner(world, rest):
    gone = world.deleted_ids()
    failures, tried = [], 0
    for route in routes_with_ids(spec()):
        if route.key in OPERATOR or route.key in EXEMPT or route.key in FILTERS:
            continue
        if not any(s.where == "path" and s.name in DELETABLE for s in route.slots):
            continue
        for url, kwargs in requests_for(route, gone):
            tried += 1
            reply = answer(rest, url, kwargs, route.method, world.a.api_key)
            if reply.status_code != 404:
                failures.append(f"{route.method} {url}: {reply.status_code} {reply.text[:200]}")
    counts.add("REST: A with its deleted ids", tried)
    assert tried >= 8
    assert not failures, "\n".join(failures)


def test_a_still_reaches_its_own_objects_after_b_tried_them(world, rest):
    """The ids B was refused are live: A reads each of them (and B's deletes changed nothing)."""
    ids, headers = world.ids, world.a.headers
    for url in (
        f"/v1/voices/{ids.voice_id}",
        f"/v1/voices/{ids.voice_id}/consent",
        f"/v1/jobs/{ids.job_id}",
        f"/v1/jobs/{ids.job_id}/audio",
    ):
        reply = rest.get(url, headers=headers)
        assert reply.status_code == 200, (url, reply.status_code, reply.text[:200])
    assert rest.get(f"/v1/voices/{ids.voice_id}", headers=headers).json()["status"] == "ready"
    assert rest.get(f"/v1/voices/{ids.voice_id}/consent", headers=headers).json().get("revoked_at") is None
    hooks = {h["webhook_id"] for h in rest.get("/v1/webhooks", headers=headers).json()["items"]}
    assert ids.webhook_id in hooks
    keys = {k["id"]: k for k in rest.get("/v1/api-keys", headers=headers).json()["items"]}
    assert keys[ids.key_id].get("revoked_at") is None, keys[ids.key_id]


def test_b_listings_usage_and_billing_show_nothing_of_a(world, rest):
    a_ids = [str(v) for v in (world.ids.voice_id, world.ids.job_id, world.ids.webhook_id, world.ids.key_id)]
    a_ids += [world.a.tenant_id, world.a.key_id]
    tried = 0
    for url in (
        "/v1/voices",
        "/v1/jobs",
        "/v1/webhooks",
        "/v1/api-keys",
        "/v1/me",
        "/v1/billing",
        "/v1/usage?group_by=voice",
        "/v1/usage?group_by=day",
        "/v1/audit",
    ):
        reply = rest.get(url, headers=world.b.headers)
        tried += 1
        assert reply.status_code == 200, (url, reply.text[:300])
        assert not [i for i in a_ids if i in reply.text], (url, reply.text[:500])
    # A's own usage and audit log show its voice: the checks above could have failed.
    assert world.ids.voice_id in rest.get("/v1/usage?group_by=voice", headers=world.a.headers).text
    assert world.ids.voice_id in rest.get("/v1/audit", headers=world.a.headers).text
    counts.add("REST: B listings", tried)
