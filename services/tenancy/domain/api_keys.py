"""API keys: ``tmb_<prefix>_<secret>``. The prefix is public (lookup, display); only a hash is stored.

SHA-256 suffices for the hash: the secret is 256 random bits, so there is nothing to brute-force,
and a slow hash would tax every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_FORMAT = re.compile(r"^tmb_([0-9a-f]{10})_([A-Za-z0-9_\-]{43})$")


@dataclass(frozen=True)
class NewApiKey:
    prefix: str
    secret: str
    hash: str


def generate() -> NewApiKey:
    prefix = secrets.token_hex(5)
    secret = f"tmb_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(prefix=prefix, secret=secret, hash=hash_key(secret))


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_prefix(secret: str) -> str | None:
    match = _FORMAT.match(secret or "")
    return match.group(1) if match else None


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(secret), stored_hash)


def display(prefix: str) -> str:
    return f"tmb_{prefix}"
