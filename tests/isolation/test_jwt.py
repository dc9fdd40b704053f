"""Forged and spoiled access tokens, aimed at tenant A's objects: UNAUTHENTICATED from every service,
401 from the gateway. Each forgery changes one thing of a token that the services do accept (the
control): so a refusal is the forgery's doing, not a malformed test token's."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kit.db.engine import make_engine
from kit.grpc.auth import ALGORITHM
from tests.isolation import counts
from timbre.v1 import billing_pb2, embedding_pb2, synthesis_pb2, tenancy_pb2

# The first test also builds the world (about 2 minutes alone, more on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


class Forge:
    """Tokens for tenant A's objects, built from the real signing key (as tenancy would sign them) or
    from a foreign one, each with one defect."""

    def __init__(self, world) -> None:
        from services.tenancy.storage.signing import load_or_create

        engine = make_engine(world.stack.database_url)
        try:
            self.key = load_or_create(engine)  # the key tenancy signs with (the newest active one)
        finally:
            engine.dispose()
        self.foreign = Ed25519PrivateKey.generate()
        self.b_token = world.b.token
        now = int(time.time())
        # A's claims, shaped as tenancy shapes them (claim names from a genuine token of B's).
        self.claims = {
            **unverified(self.b_token),
            "sub": f"tenant:{world.a.tenant_id}",
            "tid": world.a.tenant_id,
            "kid_api": world.a.key_id,
            "iat": now,
            "exp": now + 300,
        }

    def signed(self, changes: dict | None = None, key=None, kid: str | None = None) -> str:
        claims = {**self.claims, **(changes or {})}
        return jwt.encode(
            claims, key or self.key.private_key, algorithm=ALGORITHM, headers={"kid": kid or self.key.kid}
        )

    def control(self) -> str:
        return self.signed()

    def forgeries(self) -> dict[str, str]:
        header, payload, signature = self.b_token.split(".")
        b_claims = unverified(self.b_token)
        public_raw = self.key.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        now = int(time.time())

        def none_alg(kid: str | None) -> str:
            head = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}
            return f"{b64(json.dumps(head).encode())}.{b64(json.dumps(self.claims).encode())}."

        def edited(changes: dict) -> str:
            # B's genuine header and signature, the payload edited: the signature no longer matches.
            return f"{header}.{b64(json.dumps({**b_claims, **changes}).encode())}.{signature}"

        return {
            "alg none, tenancy's kid": none_alg(self.key.kid),
            "alg none, no kid": none_alg(None),
            "alg none, B's signature kept": f"{none_alg(self.key.kid)}{signature}",
            "HS256 keyed with the public key": jwt.encode(
                self.claims, public_raw, algorithm="HS256", headers={"kid": self.key.kid}
            ),
            "foreign key under tenancy's kid": self.signed(key=self.foreign),
            "foreign key, unknown kid": self.signed(key=self.foreign, kid="f0f0f0f0f0f0f0f0"),
            "foreign key, B's own claims": jwt.encode(
                {**b_claims, "exp": now + 300}, self.foreign, algorithm=ALGORITHM, headers={"kid": self.key.kid}
            ),
            "expired": self.signed({"iat": now - 900, "exp": now - 600}),
            "wrong audience": self.signed({"aud": "someone-else"}),
            "no audience": self.signed({"aud": None}),
            "wrong issuer": self.signed({"iss": "evil-issuer"}),
            "tenant claim swapped to A": edited({"tid": self.claims["tid"], "sub": self.claims["sub"]}),
            "role swapped to operator": edited({"role": "operator", "tid": None}),
            "signature of another token": f"{header}.{b64(json.dumps(self.claims).encode())}.{signature}",
            "truncated signature": self.control()[:-8],
            "garbage": "not-a-jwt",
        }


def targets(world) -> dict[str, Callable[[str], object]]:
    """Reads of A's objects, one per service that verifies tokens, each succeeding with A's token."""

    def meta(token: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {token}")]

    s, ids = world.stubs, world.ids
    return {
        "embedding.GetVoice": lambda t: s.embedding.GetVoice(
            embedding_pb2.GetVoiceRequest(voice_id=ids.voice_id), metadata=meta(t)
        ),
        "synthesis.GetJob": lambda t: s.synthesis.GetJob(
            synthesis_pb2.GetJobRequest(job_id=ids.job_id), metadata=meta(t)
        ),
        "tenancy.GetTenant": lambda t: s.tenancy.GetTenant(
            tenancy_pb2.GetTenantRequest(tenant_id=ids.tenant_id), metadata=meta(t)
        ),
        "billing.GetBillingView": lambda t: s.billing.GetBillingView(
            billing_pb2.GetBillingViewRequest(tenant_id=ids.tenant_id), metadata=meta(t)
        ),
        "analytics.QueryUsage": lambda t: s.analytics.QueryUsage(
            billing_pb2.QueryUsageRequest(tenant_id=ids.tenant_id, group_by="voice"), metadata=meta(t)
        ),
    }


@pytest.fixture(scope="module")
def forge(world) -> Forge:
    return Forge(world)


def test_forged_tokens_are_unauthenticated_at_every_service(world, forge):
    calls = targets(world)
    for read in calls.values():
        read(forge.control())  # the unspoiled token is accepted: raises if not
    failures, tried = [], 0
    for defect, token in forge.forgeries().items():
        for name, read in calls.items():
            tried += 1
            try:
                read(token)
                failures.append(f"{defect} → {name}: OK")
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                    failures.append(f"{defect} → {name}: {error.code().name} {error.details()}")
    counts.add("JWT: gRPC", tried)
    assert not failures, "\n".join(failures)


def test_forged_tokens_and_revoked_keys_are_401_at_the_gateway(world, forge, rest):
    """The gateway takes API keys, not JWTs: no token, forged or genuine, opens a route."""
    url = f"/v1/voices/{world.ids.voice_id}"
    assert rest.get(url, headers=world.a.headers).status_code == 200  # the route answers A's key
    tokens = {**forge.forgeries(), "genuine token of A": forge.control(), "genuine token of B": world.b.token}
    failures, tried = [], 0
    for defect, token in tokens.items():
        for method, path in (("GET", url), ("PATCH", f"/v1/tenants/{world.a.tenant_id}")):
            tried += 1
            reply = rest.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={"tier": "free"})
            if reply.status_code != 401:
                failures.append(f"{defect} → {method} {path}: {reply.status_code} {reply.text[:200]}")
    revoked = rest.get(url, headers={"Authorization": f"Bearer {world.deleted.key_secret}"})
    tried += 1
    assert revoked.status_code == 401 and revoked.json()["reason"] == "API_KEY_REVOKED", revoked.text
    counts.add("JWT: gateway", tried)
    assert not failures, "\n".join(failures)
