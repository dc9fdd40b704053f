"""The audit log's entries: who did what to which voice and consent, from which key and address.

Entries are written in the same transaction as the action they describe and never changed (the table
refuses UPDATE, DELETE and TRUNCATE: migration 0003).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ENROLLMENT_REQUESTED = "voice.enrollment_requested"
VOICE_READY = "voice.ready"
VOICE_REJECTED = "voice.rejected"
VOICE_DELETED = "voice.deleted"
CHALLENGE_CREATED = "consent.challenge_created"
CONSENT_GRANTED = "consent.granted"
CONSENT_REFUSED = "consent.refused"
CONSENT_REVOKED = "consent.revoked"
# The tenant replaced the voice owner's link (the previous token stopped working).
OWNER_LINK_ISSUED = "consent.owner_link_issued"
SPEAKER_VERIFIED = "speaker.verified"

ACTIONS = (
    ENROLLMENT_REQUESTED,
    VOICE_READY,
    VOICE_REJECTED,
    VOICE_DELETED,
    CHALLENGE_CREATED,
    CONSENT_GRANTED,
    CONSENT_REFUSED,
    CONSENT_REVOKED,
    OWNER_LINK_ISSUED,
    SPEAKER_VERIFIED,
)


@dataclass(frozen=True)
class Actor:
    """Who asked. `address_source`: "forwarded" (the gateway's view of its HTTP client), "peer" (the gRPC
    connection's address) or "" (no address: the system)."""

    kind: str  # tenant | operator | service | system | owner (the voice's owner, through the owner link)
    key_id: str = ""
    address: str = ""
    address_source: str = ""
    peer: str = ""  # the gRPC connection's address (the gateway's, for REST calls)
    request_id: str = ""


SYSTEM = Actor("system")
OWNER = "owner"


@dataclass(frozen=True)
class AuditEvent:
    tenant_id: str
    action: str
    actor: Actor
    voice_id: str | None = None
    consent_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    event_id: int = 0  # set by the log when the entry is appended
    at: datetime | None = None  # likewise
