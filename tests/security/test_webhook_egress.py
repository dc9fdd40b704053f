"""Webhook URLs and the egress guard: refused at registration, and at delivery after resolution, with the
connection pinned to the checked address (DNS rebinding cannot swap it)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kit.errors import InvalidArgument
from kit.net.egress import EgressPolicy
from services.synthesis.adapters.webhook_sender import PinnedHttpSender
from services.synthesis.service_layer.webhooks import Deliverer, Webhooks
from tests.fakes.clock import FakeClock
from tests.fakes.synthesis import FakeUnitOfWork, finished_job

TENANT = "00000000-0000-4000-8000-000000000001"
PUBLIC = "93.184.215.14"


class Rebinding:
    """A DNS server under an attacker's control: a public answer first, loopback afterwards."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/", "http://inside.test/"]
)
def test_registration_refuses_internal_destinations_with_a_reason(url):
    clock = FakeClock()
    webhooks = Webhooks(FakeUnitOfWork(clock), clock, EgressPolicy(resolver=lambda host, port: ["10.9.8.7"]))
    with pytest.raises(InvalidArgument) as refused:
        webhooks.create(TENANT, url, [])
    assert refused.value.reason == "WEBHOOK_URL_FORBIDDEN"
    assert refused.value.metadata == {"field": "url"}


def test_registration_refuses_a_host_that_does_not_resolve():
    def resolver(host, port):
        raise OSError("Name or service not known")

    clock = FakeClock()
    with pytest.raises(InvalidArgument, match="does not resolve"):
        Webhooks(FakeUnitOfWork(clock), clock, EgressPolicy(resolver=resolver)).create(TENANT, "https://x.test/", [])


def test_rebinding_to_loopback_after_registration_is_refused_at_delivery_and_not_retried():
    clock = FakeClock()
    uow = FakeUnitOfWork(clock)
    dns = Rebinding(PUBLIC, "127.0.0.1")
    policy = EgressPolicy(resolver=dns)
    webhooks = Webhooks(uow, clock, policy)
    hook, _ = webhooks.create(TENANT, "http://rebind.attacker.test:8080/hook", [])
    with uow.begin() as repo:
        assert webhooks.stage(repo, finished_job(TENANT), "job.succeeded") == 1
    sender = PinnedHttpSender(policy, timeout_seconds=1.0)
    deliverer = Deliverer(uow, sender, max_attempts=6, disable_after=5, clock=clock)

    assert deliverer.deliver_due() == 1
    assert dns.lookups == 2  # once at registration, once at delivery: its answer was checked

    with uow.read() as repo:
        stored = repo.webhook(hook.webhook_id)
    (delivery,) = uow.tables.deliveries.values()
    assert stored is not None and stored.disabled
    assert "WEBHOOK_URL_FORBIDDEN" in stored.disabled_reason and "127.0.0.1" in stored.disabled_reason
    assert delivery.attempts == 1 and delivery.abandoned_at is not None and delivery.delivered_at is None
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    clock.advance(seconds=7200)
    assert deliverer.deliver_due() == 0  # nothing is sent again, however long we wait
    assert dns.lookups == 2


class _Receiver(BaseHTTPRequestHandler):
    seen: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Receiver.seen.append((self.headers["host"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_delivery_connects_to_the_checked_address_and_keeps_the_host_name():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        # The name exists only in this resolver: the request can reach the server only through the pin.
        policy = EgressPolicy(allow_private=True, resolver=lambda host, port: ["127.0.0.1"])
        sender = PinnedHttpSender(policy, timeout_seconds=2.0)
        error = sender.send(f"http://hooks.customer.test:{port}/in", b'{"a":1}', {"content-type": "application/json"})
        sender.close()
    finally:
        server.shutdown()
        server.server_close()
    assert error is None
    assert _Receiver.seen == [(f"hooks.customer.test:{port}", b'{"a":1}')]
