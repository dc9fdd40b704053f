"""The Ed25519 key pair that signs access tokens; created on first start, published as a JWKS.

`JwtSigner` is the service layer's TokenSigner: it alone knows the JWT encoding of a token's claims
(issuer, audience and claim names, shared with the verifier in `kit.grpc.auth`)."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, insert, select, text

from kit.grpc.auth import ALGORITHM, AUDIENCE, ISSUER
from services.tenancy.domain.tokens import TokenClaims
from services.tenancy.storage.tables import signing_keys


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    public_jwk: dict


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_key() -> tuple[str, str, dict]:
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(8)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}
    return kid, pem, jwk


def load_or_create(engine: Engine) -> SigningKey:
    """The newest active key; replicas starting together agree on one (advisory lock)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('tenancy.signing_keys'))"))
        row = conn.execute(
            select(signing_keys).where(signing_keys.c.retired_at.is_(None)).order_by(signing_keys.c.created_at.desc())
        ).first()
        if row is None:
            kid, pem, jwk = _new_key()
            conn.execute(insert(signing_keys).values(kid=kid, private_pem=pem, public_jwk=json.dumps(jwk)))
            row = conn.execute(select(signing_keys).where(signing_keys.c.kid == kid)).one()
    private = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise TypeError(f"signing key {row.kid} is not an Ed25519 key")
    return SigningKey(row.kid, private, json.loads(row.public_jwk))


def jwks(engine: Engine) -> dict:
    """Every key not retired: tokens signed by a key rotated out moments ago still verify."""
    with engine.connect() as conn:
        rows = conn.execute(select(signing_keys.c.public_jwk).where(signing_keys.c.retired_at.is_(None))).all()
    return {"keys": [json.loads(r.public_jwk) for r in rows]}


class JwtSigner:
    def __init__(self, engine: Engine, key: SigningKey, tier_codes: Mapping[str, int]) -> None:
        self.engine = engine
        self.key = key
        self._tier_codes = tier_codes  # the token carries the tier as the API's enum number

    def sign(self, claims: TokenClaims) -> str:
        payload: dict[str, object] = {
            "sub": claims.subject,
            "role": claims.role,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "jti": uuid.uuid4().hex,
        }
        if claims.tenant_id:
            payload |= {"tid": claims.tenant_id, "kid_api": claims.key_id, "tier": self._tier_codes[claims.tier]}
        return jwt.encode(payload, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid})

    def jwks(self) -> dict:
        return jwks(self.engine)
