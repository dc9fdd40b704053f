"""The voice owner's private link: a random token that opens one consent to the person whose voice it
is (what they consented to, how the voice is used, and revocation), without a tenant account.

The token is shown once, in the answer that created the consent (or a new link); the service keeps only
its SHA-256, so a database dump opens nothing. A new link replaces the stored digest: the previous
token stops working at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

PREFIX = "tvo_"
# secrets.token_urlsafe(32): 32 random bytes, 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(r"^tvo_[A-Za-z0-9_\-]{43}$")
MONTHS_SHOWN = 12

ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token or ""))


def digest(token: str) -> str:
    """What is stored and looked up: the token's SHA-256 (hex). The token holds 256 random bits, so a
    plain hash is enough: there is nothing to guess that a slow hash would protect."""
    return hashlib.sha256(token.encode()).hexdigest()


def status(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> str:
    if revoked_at is not None:
        return REVOKED
    return EXPIRED if expires_at <= now else ACTIVE


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def last_months(today: date, count: int = MONTHS_SHOWN) -> list[str]:
    """The `count` calendar months up to and including today's, oldest first ("YYYY-MM")."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def first_day(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


@dataclass(frozen=True)
class MonthlyGenerations:
    month: str  # "YYYY-MM"
    requests: int = 0
    characters: int = 0
    audio_seconds: float = 0.0


def zero_filled(months: list[str], measured: list[MonthlyGenerations]) -> list[MonthlyGenerations]:
    """One entry per month of `months`, in their order: the measured one, or zeros."""
    found = {m.month: m for m in measured}
    return [found.get(month) or MonthlyGenerations(month) for month in months]


@dataclass(frozen=True)
class OwnerView:
    consent_id: str
    voice_id: str
    voice_name: str
    owner_name: str
    tenant_name: str
    purpose: str
    status: str  # active | revoked | expired
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    generations: list[MonthlyGenerations]
