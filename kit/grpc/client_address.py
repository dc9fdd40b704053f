"""The end client's address, carried from the REST gateway to the services in gRPC metadata.

The gateway sees the HTTP client; a service sees only the gateway as its gRPC peer. The gateway adds
``x-timbre-client-address``; services record it as *forwarded* next to the peer they saw, since any
caller holding a valid token could send the header too.
"""

from __future__ import annotations

import ipaddress

CLIENT_ADDRESS_KEY = "x-timbre-client-address"


def forward(address: str | None) -> list[tuple[str, str]]:
    """Metadata naming the client's address (nothing when it is unknown)."""
    return [(CLIENT_ADDRESS_KEY, address)] if address else []


def forwarded_address(metadata: dict[str, str]) -> str:
    """The forwarded address when it is a well-formed IP address, else ""."""
    value = metadata.get(CLIENT_ADDRESS_KEY, "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def peer_host(peer: str) -> str:
    """grpc's peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path") → the host part."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer[:64]
