"""A recording proxy in front of stripe-mock: what real Stripe would have received, and its faults.

stripe-mock validates every request against Stripe's API spec but keeps no state, so it cannot show that
a usage unit reached Stripe exactly once. This proxy (a threaded HTTP server on 127.0.0.1, port 0)
forwards every request to stripe-mock and records each arrival, and emulates what stripe-mock lacks:

- Idempotency-Key: a repeated key replays the first answer; the same key with other parameters is a 400
  `idempotency_error`; a key whose first request is still running gets a 409. As at Stripe, only answers
  of requests that started executing are saved (not validation errors, not faults injected before
  processing), so a request refused for its customer can be sent again with the same key after the fix.
- Meter events (`POST /v1/billing/meter_events`) are de-duplicated by `identifier`: a repeated identifier
  is answered 200 with the first event's object (or 400 with `duplicate_identifier = "error"`) and counted
  once in `meter_totals()`.

Faults for the tests: `fail_next` (status answers, before or after processing), `delay_next`, `drop_next`
(connection closed without an answer) and `reject_customer`. docs/stripe-local.md describes it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

METER_EVENTS = "/v1/billing/meter_events"
# Headers that describe one hop, not the request: never forwarded.
_HOP_HEADERS = {"host", "connection", "content-length", "transfer-encoding", "accept-encoding", "keep-alive"}
_DEFAULT_ERROR_TYPES = {400: "invalid_request_error", 404: "invalid_request_error", 429: "invalid_request_error"}

Outcome = Literal[
    "pending",  # still being handled
    "accepted",  # reached Stripe and succeeded (a meter event counted in meter_totals)
    "duplicate",  # a meter event whose identifier Stripe had already accepted: not counted again
    "replayed",  # a repeated Idempotency-Key: the first answer replayed, nothing executed
    "invalid",  # stripe-mock refused it (request validation)
    "fault",  # an injected fault answered it before processing
    "rejected",  # refused by reject_customer
    "conflict",  # same Idempotency-Key as a request still running (409) or with other parameters (400)
    "dropped",  # connection closed without an answer
]


@dataclass
class Arrival:
    """One request as it reached "Stripe"."""

    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    at: float
    status: int = 0
    outcome: Outcome = "pending"
    # Also processed by Stripe, though the client got a fault or nothing (fail_next/drop_next after_processing).
    processed: bool = False

    @property
    def identifier(self) -> str | None:
        return self.params.get("identifier") if self.path == METER_EVENTS else None

    @property
    def customer(self) -> str | None:
        return self.params.get("payload[stripe_customer_id]") or self.params.get("customer")

    @property
    def value(self) -> Decimal | None:
        raw = self.params.get("payload[value]")
        try:
            return Decimal(raw) if raw is not None else None
        except InvalidOperation:
            return None


@dataclass
class Fault:
    status: int | None = None
    error_type: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    delay: float = 0.0
    drop: bool = False
    # The request is processed (and counted) first; only its answer is replaced or lost.
    after_processing: bool = False


@dataclass
class _Scripted:
    pattern: str
    fault: Fault
    remaining: int


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class StripeProxy:
    """`StripeProxy(stripe_mock_url).start()`; point the SDK at `.url` (or use `.client()`); `.stop()`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._arrivals: list[Arrival] = []
        self._script: list[_Scripted] = []
        self._rejected: dict[str, Fault] = {}
        self._saved: dict[str, tuple[str, _Answer]] = {}  # Idempotency-Key -> (request fingerprint, answer)
        self._running: set[str] = set()
        self._accepted: dict[str, tuple[Arrival, _Answer]] = {}  # meter identifier -> first acceptance
        # How Stripe answers a meter event whose identifier it already has (docs/stripe-local.md).
        self.duplicate_identifier: Literal["replay", "error"] = "replay"
        self._server: ThreadingHTTPServer | None = None

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> StripeProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 256
        server.server_bind()
        server.server_activate()
        self._server = server
        threading.Thread(target=server.serve_forever, name="stripe-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def client(self, max_network_retries: int = 2, api_key: str = "sk_test_timbreproxy", **options):
        """An official SDK client pointed at this proxy."""
        import stripe

        return stripe.StripeClient(
            api_key, base_addresses={"api": self.url}, max_network_retries=max_network_retries, **options
        )

    # --- faults -------------------------------------------------------------------------------------

    def fail_next(
        self,
        path: str,
        status: int = 500,
        times: int = 1,
        *,
        retry_after: float | None = None,
        should_retry: bool | None = None,
        code: str | None = None,
        message: str | None = None,
        error_type: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """The next `times` requests whose path matches `path` (fnmatch pattern) get `status` and a Stripe
        error body. `after_processing`: Stripe processed the request (a meter event counts) and failed after,
        so its answer is saved under the Idempotency-Key and replayed, as Stripe does for 500s."""
        fault = Fault(status, error_type, code, message, retry_after, should_retry, after_processing=after_processing)
        self._add(path, fault, times)

    def delay_next(self, path: str, seconds: float, times: int = 1) -> None:
        """The next `times` matching requests wait `seconds` before they are processed (a client timeout
        shorter than that sees no answer, but the request still reaches Stripe)."""
        self._add(path, Fault(delay=seconds), times)

    def drop_next(self, path: str, times: int = 1, *, after_processing: bool = True) -> None:
        """Close the connection without an answer for the next `times` matching requests; by default after
        Stripe processed them (the answer lost on the way back)."""
        self._add(path, Fault(drop=True, after_processing=after_processing), times)

    def reject_customer(
        self, customer: str, status: int = 400, code: str = "resource_missing", message: str | None = None
    ) -> None:
        """Refuse every request naming `customer` (payload[stripe_customer_id], customer, or in the path)
        until `clear_customer`."""
        message = message or f"No such customer: '{customer}'"
        with self._lock:
            self._rejected[customer] = Fault(status, "invalid_request_error", code, message)

    def clear_customer(self, customer: str) -> None:
        with self._lock:
            self._rejected.pop(customer, None)

    def clear_faults(self) -> None:
        with self._lock:
            self._script.clear()
            self._rejected.clear()

    def _add(self, pattern: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._script.append(_Scripted(pattern, fault, times))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for scripted in self._script:
                if scripted.remaining > 0 and fnmatch.fnmatchcase(path, scripted.pattern):
                    scripted.remaining -= 1
                    return scripted.fault
        return None

    # --- what arrived -------------------------------------------------------------------------------

    def requests(self, path: str = "*", method: str | None = None) -> list[Arrival]:
        with self._lock:
            return [
                a
                for a in self._arrivals
                if fnmatch.fnmatchcase(a.path, path) and (method is None or a.method == method.upper())
            ]

    def meter_events(self) -> list[Arrival]:
        """Every meter event request, whatever its outcome."""
        return self.requests(METER_EVENTS, "POST")

    def meter_totals(self) -> dict[str, Decimal]:
        """identifier -> value of each meter event Stripe accepted, once per identifier."""
        with self._lock:
            return {identifier: first.value or Decimal(0) for identifier, (first, _) in self._accepted.items()}

    def meter_totals_by_customer(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        with self._lock:
            for first, _ in self._accepted.values():
                totals[first.customer or ""] += first.value or Decimal(0)
        return dict(totals)

    def arrivals(self, identifier: str) -> int:
        """How many meter event requests carried `identifier` (faulted, replayed and duplicate ones too)."""
        return sum(1 for a in self.meter_events() if a.identifier == identifier)

    def duplicates(self) -> list[str]:
        """Identifiers that reached Stripe's processing more than once (redeliveries Stripe de-duplicated).
        A re-send after a lost answer is one; a retry with the same Idempotency-Key (replayed) is not."""
        processed = Counter(a.identifier for a in self.meter_events() if a.processed and a.identifier)
        return sorted(identifier for identifier, count in processed.items() if count > 1)

    def conflicts(self) -> list[str]:
        """Identifiers sent again with another customer or value: a redelivery that would bill differently,
        which an identifier derived from what it bills never produces."""
        with self._lock:
            firsts = {i: first for i, (first, _) in self._accepted.items()}
            events = [a for a in self._arrivals if a.path == METER_EVENTS and a.identifier in firsts]
        return sorted(
            {
                a.identifier
                for a in events
                if a.identifier and (a.value, a.customer) != (firsts[a.identifier].value, firsts[a.identifier].customer)
            }
        )

    def reset(self) -> None:
        """Forget arrivals, acceptances, saved answers and faults (Stripe's memory included)."""
        with self._lock:
            self._arrivals.clear()
            self._script.clear()
            self._rejected.clear()
            self._saved.clear()
            self._accepted.clear()

    # --- handling -----------------------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Answer | None:
        """The answer to send, or None to close the connection without one."""
        path = urlsplit(target).path
        params = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else {}
        if method == "GET":
            params.update(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        key = headers.get("idempotency-key") if method == "POST" else None
        arrival = Arrival(method, path, params, key, time.time())
        with self._lock:
            self._arrivals.append(arrival)

        fault = self._take_fault(path)
        if fault and not fault.after_processing and (fault.drop or fault.status):
            arrival.outcome, arrival.status = ("dropped", 0) if fault.drop else ("fault", fault.status or 0)
            return None if fault.drop else _error(fault)

        refusal = self._refusal(arrival)
        if refusal is not None:
            arrival.outcome, arrival.status = "rejected", refusal.status
            return refusal

        fingerprint = hashlib.sha256(f"{method} {path} ".encode() + body).hexdigest()
        if key is not None:
            with self._lock:
                saved = self._saved.get(key)
                running = key in self._running
                if saved is None and not running:
                    self._running.add(key)
            if saved is not None:
                if saved[0] != fingerprint:
                    arrival.outcome, arrival.status = "conflict", 400
                    return _error(Fault(400, "idempotency_error", None, _KEY_REUSED.format(key=key)))
                arrival.outcome, arrival.status = "replayed", saved[1].status
                return _replayed(saved[1])
            if running:
                arrival.outcome, arrival.status = "conflict", 409
                return _error(Fault(409, "idempotency_error", "idempotency_key_in_use", _KEY_IN_USE))
        try:
            if fault and fault.delay:
                # Stripe slow while executing: the key counts as running meanwhile.
                time.sleep(fault.delay)
            processed, saveable = self._process(arrival, method, target, headers, body)
            answer: _Answer | None = processed
            to_save = processed if saveable else None
            if fault and fault.after_processing:
                # Processed, then the answer is lost or replaced: Stripe saved what it answered (500s too).
                answer = None if fault.drop else _error(fault)
                to_save = to_save if answer is None else answer
                arrival.status = answer.status if answer else 0
            if key is not None and to_save is not None:
                with self._lock:
                    self._saved[key] = (fingerprint, to_save)
            return answer
        finally:
            if key is not None:
                with self._lock:
                    self._running.discard(key)

    def _refusal(self, arrival: Arrival) -> _Answer | None:
        with self._lock:
            for customer, fault in self._rejected.items():
                if arrival.customer == customer or f"/{customer}" in arrival.path:
                    return _error(fault)
        return None

    def _process(
        self, arrival: Arrival, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[_Answer, bool]:
        """Stripe executing the request → (answer, whether Stripe saves it under the Idempotency-Key)."""
        identifier = arrival.identifier
        if method == "POST" and identifier is not None:
            with self._lock:
                first = self._accepted.get(identifier)
            if first is not None:
                arrival.outcome, arrival.processed = "duplicate", True
                if self.duplicate_identifier == "error":
                    message = f"An event with identifier '{identifier}' already exists."
                    answer = _error(Fault(400, "invalid_request_error", "duplicate_meter_event", message))
                else:
                    answer = first[1]
                arrival.status = answer.status
                return answer, True
        answer = self._forward(method, target, headers, body)
        arrival.status = answer.status
        if answer.status >= 400:
            arrival.outcome = "invalid"
            return answer, False
        arrival.outcome, arrival.processed = "accepted", True
        if arrival.path == METER_EVENTS and method == "POST":
            answer = _echo_meter_event(answer, arrival.params)
            if identifier is not None:
                with self._lock:
                    # Two concurrent first sends of one identifier: Stripe keeps one.
                    if identifier in self._accepted:
                        arrival.outcome = "duplicate"
                    else:
                        self._accepted[identifier] = (arrival, answer)
        return answer, True

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Answer:
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_HEADERS}
        for attempt in range(2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(*self._upstream, timeout=30)
                self._local.connection = connection
            try:
                connection.request(method, target, body=body or None, headers=forwarded)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                # A kept-alive connection the server closed: open a new one once.
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
                continue
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            return _Answer(response.status, data, kept)
        raise AssertionError("unreachable")


_KEY_REUSED = (
    "Keys for idempotent requests can only be used with the same parameters they were first used with. "
    "Try using a key other than '{key}' if you meant to execute a different request."
)
_KEY_IN_USE = (
    "There is currently another in-progress request using this Idempotent Key (that probably means you submitted "
    "twice, and the other request is still going through). Please try again later."
)


def _error(fault: Fault) -> _Answer:
    status = fault.status or 500
    error = {
        "type": fault.error_type or _DEFAULT_ERROR_TYPES.get(status, "api_error"),
        "message": fault.message or f"Injected by the test proxy: HTTP {status}",
    }
    code = fault.code or ("rate_limit" if status == 429 else None)
    if code:
        error["code"] = code
    headers = {"Content-Type": "application/json", "Request-Id": f"req_proxy_{uuid.uuid4().hex[:14]}"}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
    return _Answer(status, json.dumps({"error": error}).encode(), headers)


def _replayed(answer: _Answer) -> _Answer:
    return _Answer(answer.status, answer.body, {**answer.headers, "Idempotent-Replayed": "true"})


def _echo_meter_event(answer: _Answer, params: dict[str, str]) -> _Answer:
    """stripe-mock answers a fixture payload; Stripe echoes the event it received."""
    try:
        event = json.loads(answer.body)
    except ValueError:
        return answer
    event["payload"] = {k[len("payload[") : -1]: v for k, v in params.items() if k.startswith("payload[")}
    for name in ("event_name", "identifier"):
        if name in params:
            event[name] = params[name]
    if "timestamp" in params and params["timestamp"].isdigit():
        event["timestamp"] = int(params["timestamp"])
    return _Answer(answer.status, json.dumps(event).encode(), answer.headers)


class _Handler(BaseHTTPRequestHandler):
    owner: StripeProxy
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.owner._handle(self.command, self.path, headers, body)
        try:
            if answer is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            # The client gave up (its timeout) before the answer: Stripe processed the request anyway.
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass


# --- webhooks -------------------------------------------------------------------------------------------


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it: t=<unix time>,v1=HMAC-SHA256(secret, "t.payload")."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def stripe_event(event_type: str, data_object: dict, event_id: str | None = None, created: int | None = None) -> bytes:
    """The JSON body of a Stripe webhook event (what Stripe POSTs), e.g. stripe_event("invoice.paid", {...})."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": data_object},
    }
    return json.dumps(event).encode()


def _measure(upstream: str = "http://127.0.0.1:12111", events: int = 500) -> None:
    """Meter events per second, SDK → stripe-mock and SDK → proxy → stripe-mock (docs/stripe-local.md)."""
    from concurrent.futures import ThreadPoolExecutor

    import stripe

    proxy = StripeProxy(upstream).start()

    def rate(base: str, threads: int) -> float:
        client = stripe.StripeClient("sk_test_measure", base_addresses={"api": base})

        def send(identifier: str) -> None:
            payload = {"stripe_customer_id": "cus_measure", "value": "3"}
            client.v1.billing.meter_events.create({"event_name": "m", "payload": payload, "identifier": identifier})

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, [uuid.uuid4().hex for _ in range(events)]))
        return events / (time.monotonic() - started)

    for threads in (1, 8):
        direct, proxied = rate(upstream, threads), rate(proxy.url, threads)
        print(f"{threads} thread(s): stripe-mock {direct:.0f}/s, through the proxy {proxied:.0f}/s")
    proxy.stop()


if __name__ == "__main__":
    _measure()
