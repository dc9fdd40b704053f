"""The webhook SSRF guard through the real synthesis service (its safe default: no private addresses),
REST gateway and PostgreSQL: internal URLs refused at registration with WEBHOOK_URL_FORBIDDEN, and a name
that rebinds to loopback after registration refused at delivery, abandoned and its endpoint disabled."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from kit.grpc.client import open_channel
from tests.integration.conftest import bearer
from tests.integration.test_gateway import assert_problem, auth
from timbre.v1 import synthesis_pb2, synthesis_pb2_grpc

pytestmark = pytest.mark.integration

DATABASE = "timbre_test_egress"  # its own: the deliverer below claims every due delivery it finds


@pytest.fixture(scope="module")
def synthesis(infra, tenancy):
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, migrate_all
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.main import SynthesisApp

    url = make_url(infra.database_url).set(database=DATABASE)
    ensure_database(PG_PORT, DATABASE)
    database_url = url.render_as_string(hide_password=False)
    migrate_all(database_url)
    settings = SynthesisSettings(
        grpc_port=0, metrics_port=0, tenancy_addr=tenancy, database_url=database_url, run_workers=False
    )
    assert settings.webhook_allow_private is False  # the default under test
    app = SynthesisApp(settings)
    process = app.process().start()
    app.address = f"127.0.0.1:{process.port}"
    yield app
    process.stop()


@pytest.fixture
def rest(synthesis, gateway_factory):
    return gateway_factory(synthesis_addr=synthesis.address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_registration_of_an_internal_url_is_a_400_problem(rest, new_tenant, url):
    _, key, _ = new_tenant("pro")
    problem = assert_problem(rest.post("/v1/webhooks", json={"url": url}, headers=auth(key)), 400)
    assert problem["reason"] == "WEBHOOK_URL_FORBIDDEN", problem
    assert rest.get("/v1/webhooks", headers=auth(key)).json()["items"] == []


def test_grpc_answers_invalid_argument_with_the_reason_in_error_info(synthesis, issue, new_tenant):
    from timbre.v1 import tenancy_pb2

    _, key, _ = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=key))
    channel = open_channel(synthesis.address)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            synthesis_pb2_grpc.SynthesisServiceStub(channel).CreateWebhook(
                synthesis_pb2.CreateWebhookRequest(url="http://[::1]:9/x"), metadata=bearer(token)
            )
    finally:
        channel.close()
    error = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "WEBHOOK_URL_FORBIDDEN"


class _Receiver(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        _Receiver.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_name_rebound_to_loopback_is_refused_at_delivery_recorded_and_not_retried(synthesis, rest, new_tenant):
    from kit.net.egress import EgressPolicy
    from services.synthesis.adapters.webhook_sender import PinnedHttpSender
    from services.synthesis.service_layer.webhooks import Deliverer, Webhooks
    from tests.fakes.synthesis import finished_job

    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    tenant_id, key, _ = new_tenant("pro")
    answers = ["93.184.215.14"]  # public while the URL is checked at registration

    def dns(host: str, port: int) -> list[str]:
        return list(answers)

    try:
        url = f"http://rebind.attacker.test:{receiver.server_address[1]}/hook"
        hook, _ = Webhooks(synthesis.uow, egress=EgressPolicy(resolver=dns)).create(tenant_id, url, [])
        with synthesis.uow.begin() as repo:
            job = finished_job(tenant_id, tier=2)
            assert synthesis.webhooks.stage(repo, job, "job.succeeded") == 1
        answers[:] = ["127.0.0.1"]  # the attacker's DNS now points inside
        deliverer = Deliverer(synthesis.uow, PinnedHttpSender(EgressPolicy(resolver=dns), 2.0), max_attempts=6)
        assert deliverer.deliver_due() == 1
        assert deliverer.deliver_due() == 0  # abandoned: nothing left to retry
    finally:
        receiver.shutdown()
        receiver.server_close()

    assert _Receiver.hits == []  # the loopback receiver was never reached
    (listed,) = rest.get("/v1/webhooks", headers=auth(key)).json()["items"]
    assert listed["webhook_id"] == hook.webhook_id and listed["disabled"]
    assert "WEBHOOK_URL_FORBIDDEN" in listed["disabled_reason"] and "127.0.0.1" in listed["disabled_reason"]
