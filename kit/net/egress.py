"""Which addresses a service may connect to on a tenant's behalf (the SSRF guard).

A tenant-supplied URL (a webhook) must not reach the deployment's own network: loopback, link-local,
private and CGNAT ranges, unspecified, multicast and reserved addresses, and the clouds' metadata
endpoints are refused. The check runs on the addresses a name *resolves to*, once, and the caller then
connects to exactly those addresses (``ResolvedTarget.addresses``), so a DNS answer that changes
between the check and the connection (rebinding) cannot redirect the request.

``allow_private`` lets a local stack or a test deliver to 127.0.0.1; metadata endpoints stay refused
even then, since no local test needs them and they are the prize of an SSRF.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it resolves to (as text); raises OSError when it does not resolve.
Resolver = Callable[[str, int], list[str]]

# Cloud instance-metadata services (AWS/GCP/Azure/OCI, AWS over IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
METADATA_NAMES = frozenset(
    ("metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationForbidden(Exception):
    """The destination is one this deployment must never connect to on a tenant's behalf."""


class DestinationUnresolvable(Exception):
    """The host name has no address now (may be transient)."""


@dataclass(frozen=True)
class ResolvedTarget:
    scheme: str
    host: str  # as written in the URL (what Host and TLS SNI carry)
    port: int
    addresses: tuple[IPAddress, ...]  # every address checked; connect to these only


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def unwrap(address: IPAddress) -> IPAddress:
    """IPv4-mapped (::ffff:a.b.c.d) and NAT64/6to4-free: an IPv6 address that carries an IPv4 one is judged as it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def forbidden_because(address: IPAddress, allow_private: bool = False) -> str | None:
    """Why `address` is refused (a short phrase), or None when a tenant's URL may reach it."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    inner = unwrap(address)
    if inner is not address:
        reason = forbidden_because(inner, allow_private)
        return f"{reason} (inside {address})" if reason else None
    if inner in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if inner.is_unspecified:
        return "the unspecified address"
    if inner.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    if inner.is_loopback:
        return "a loopback address"
    if inner.is_link_local:
        return "a link-local address"
    if isinstance(inner, ipaddress.IPv4Address) and inner in CGNAT:
        return "a carrier-grade NAT address"
    if inner.is_private:
        return "a private address"
    if inner.is_reserved or not inner.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    allow_private: bool = False
    resolver: Resolver = system_resolver

    def check_address(self, address: str | IPAddress) -> IPAddress:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        reason = forbidden_because(ip, self.allow_private)
        if reason:
            raise DestinationForbidden(f"{ip} is {reason}")
        return ip

    def resolve(self, url: str) -> ResolvedTarget:
        """Resolves the URL's host once and checks every address it has: one forbidden address refuses
        the URL (a name that also points inside could be steered there)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        if scheme not in DEFAULT_PORTS or not host:
            raise DestinationForbidden("only http(s) URLs with a host are allowed")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise DestinationForbidden("the URL's port is not a number in 1–65535") from exc
        if host in METADATA_NAMES or host.endswith(".internal") and host.startswith("metadata"):
            raise DestinationForbidden(f"{host} is a cloud metadata name")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            texts = [str(literal)]
        else:
            try:
                texts = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise DestinationUnresolvable(f"{host} does not resolve") from exc
            if not texts:
                raise DestinationUnresolvable(f"{host} does not resolve")
        addresses = tuple(self.check_address(_strip_zone(t)) for t in texts)
        return ResolvedTarget(scheme, host, port, addresses)


def _strip_zone(text: str) -> str:
    """fe80::1%eth0 → fe80::1 (getaddrinfo adds the zone to scoped IPv6 addresses)."""
    return text.split("%", 1)[0]
