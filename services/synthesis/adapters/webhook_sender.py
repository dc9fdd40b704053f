"""The webhook Sender over HTTP, pinned to the addresses the egress policy checked.

The URL's host is resolved once (kit.net.egress), every address is checked, and the request then goes
to the first checked address itself: the URL is rewritten to that IP while the Host header and the
TLS server name (SNI, and so certificate verification) keep the original name. No second lookup
happens, so a DNS answer that flips to an internal address after the check (rebinding) is never used.
"""

from __future__ import annotations

import httpx

from kit.net.egress import DestinationUnresolvable, EgressPolicy, ResolvedTarget


def pinned_url(url: str, target: ResolvedTarget) -> httpx.URL:
    return httpx.URL(url).copy_with(host=str(target.addresses[0]))


class PinnedHttpSender:
    """Posts one delivery; raises kit.net.egress.DestinationForbidden when the URL must not be reached."""

    def __init__(self, policy: EgressPolicy, timeout_seconds: float = 5.0) -> None:
        self.policy = policy
        self.timeout_seconds = timeout_seconds
        # trust_env=False: an HTTP(S)_PROXY from the environment would make the proxy resolve the name
        # again, undoing the pin.
        self.client = httpx.Client(timeout=timeout_seconds, follow_redirects=False, trust_env=False)

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        try:
            target = self.policy.resolve(url)  # DestinationForbidden propagates: the caller gives up
        except DestinationUnresolvable as exc:
            return str(exc)  # DNS may come back: an ordinary, retried failure
        host_header = target.host if target.port == _default_port(target.scheme) else f"{target.host}:{target.port}"
        try:
            reply = self.client.post(
                pinned_url(url, target),
                content=body,
                headers={**headers, "host": host_header},
                extensions={"sni_hostname": target.host},
            )
        except httpx.HTTPError as exc:
            return f"{exc.__class__.__name__}: {exc}"[:500]
        if 200 <= reply.status_code < 300:
            return None
        return f"HTTP {reply.status_code}"

    def close(self) -> None:
        self.client.close()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
