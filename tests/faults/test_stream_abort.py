"""A stream whose upstream fails mid-way reaches the client as a broken transfer, never as a clean end:
the gateway as a real uvicorn server, its synthesis backend a stand-in whose stream breaks after the
first piece (as when the synthesis edge serving it is SIGKILLed: tests/faults/test_faults.py)."""

from __future__ import annotations

import threading
import time

import grpc
import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.auth import Caller, tenant_caller
from gateway.clients import Backends
from gateway.config import GatewaySettings
from kit.logging import configure_logging
from tests.integration.synthesis_stack import free_port
from timbre.v1 import synthesis_pb2

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]


class _Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "the edge went away"


class _BrokenStream:
    """A SynthesizeStream call: `pieces` audio messages, then the connection to the edge is lost."""

    def __init__(self, pieces: int, breaks: bool) -> None:
        self.left, self.breaks = pieces, breaks

    def __iter__(self):
        return self

    def __next__(self) -> synthesis_pb2.SynthesizeStreamResponse:
        if self.left == 0:
            if self.breaks:
                raise _Unavailable()
            raise StopIteration
        self.left -= 1
        return synthesis_pb2.SynthesizeStreamResponse(audio=b"\xff\xfb" * 500, generation_id="42")

    def cancel(self) -> None:
        pass


class _Synthesis:
    def __init__(self, breaks: bool) -> None:
        self.breaks = breaks

    def SynthesizeStream(self, request, metadata=None):  # noqa: N802 - the gRPC method's name
        return _BrokenStream(3, self.breaks)


def _serve(breaks: bool):
    # As the gateway process logs (JSON): the console renderer's rich tracebacks take seconds to draw.
    configure_logging("gateway", "WARNING")
    backends = Backends(None, None, None, None, None, _Synthesis(breaks), [])  # type: ignore[arg-type]
    app = create_app(GatewaySettings(), backends=backends)
    app.dependency_overrides[tenant_caller] = lambda: Caller(token="t", tenant_id="tenant", tier=2)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _stream(base: str) -> int:
    body = {"text": "Hello there.", "language": "en", "stream": True}
    with httpx.stream("POST", f"{base}/v1/voices/v1/speech", json=body, timeout=30) as reply:
        assert reply.status_code == 200
        return sum(len(piece) for piece in reply.iter_bytes())


@pytest.mark.parametrize("breaks", [True, False], ids=["upstream breaks", "upstream completes"])
def test_a_stream_cut_upstream_is_a_broken_transfer_not_a_short_file(breaks):
    server, thread, base = _serve(breaks)
    try:
        if breaks:
            with pytest.raises(httpx.RemoteProtocolError):
                _stream(base)
        else:
            assert _stream(base) == 3 * 1000
    finally:
        server.should_exit = True
        thread.join(10)
