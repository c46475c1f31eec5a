"""The gateway's HTTP server on 127.0.0.1: agents' LLM requests in, the upstream's answers out.

It listens on a TCP port of 127.0.0.1 (or of the address --ohbench-gateway-host names, for
workers on other hosts) and on a unix socket (`socket_path`) with the same
handler: agents in sealed containers reach it through the socket (runtime/sealed.py).

Agent traffic: any path (`/v1/chat/completions`, `/v1/responses`, `/v1/messages`,
`/v1beta/models/{model}:generateContent`, ...) with an item's token as its credential
(Authorization Bearer, x-api-key, api-key, x-goog-api-key, or Gemini's `?key=`). A POST is
one LLM call: admitted against the budgets, forwarded (or answered from the item's
cassette), relayed back as it streams, and metered. A GET (e.g. `/v1/models`) and a token
count (`/v1/messages/count_tokens`, `:countTokens`, `/v1/responses/input_tokens`, free at
every provider) are forwarded unmetered. Errors the gateway makes itself are shaped like the
protocol's own (OpenAI's, Anthropic's or Google's), so clients raise their own error types.

Admin traffic, from the harness only (a secret header the agents never see), under
`/_ohbench/`: open a lease (`POST leases`), read or close it (`GET`/`DELETE leases/<token>`),
and read the run's spending (`GET run`).
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx

from pytest_ohbench.core.llm import LLMConfig, redact
from pytest_ohbench.gateway.cassette import CASSETTE_DIR, Cassette, CassetteWriter, ReplayMiss, route
from pytest_ohbench.gateway.http_server import BackgroundHTTPServer, BackgroundUnixHTTPServer
from pytest_ohbench.gateway.meter import BudgetRefused, Lease, Ledger, Meter
from pytest_ohbench.gateway.upstream import Tally, UpstreamUnreachable, send, token_of, upstream_base, upstream_headers, upstream_url
from pytest_ohbench.gateway.usage import (
    ANTHROPIC,
    GEMINI,
    StreamUsage,
    Usage,
    body_usage,
    counts_tokens,
    event_payload,
    gemini_model,
    is_usage_only_chunk,
    protocol_of,
    split_events,
)

ADMIN_PREFIX = "/_ohbench/"
ADMIN_HEADER = "X-Ohbench-Admin"
# Answer headers worth passing on to the agent (beyond the content type).
FORWARDED_ANSWER_HEADERS = ("retry-after", "x-request-id", "request-id")
# Google's canonical status names, which its clients show beside the HTTP status.
GOOGLE_STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "RESOURCE_EXHAUSTED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
                   503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def error_body(protocol: str, message: str, kind: str, status: int = 500) -> dict[str, Any]:
    """An error in the protocol's own shape, so the agent's client shows `message`."""
    if protocol == ANTHROPIC:
        return {"type": "error", "error": {"type": kind, "message": message}}
    if protocol == GEMINI:
        # The gateway's own kind goes where Google puts a machine-readable reason.
        reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": kind.upper(), "domain": "ohbench"}
        return {"error": {"code": status, "message": message, "status": GOOGLE_STATUSES.get(status, "UNKNOWN"), "details": [reason]}}
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


@dataclasses.dataclass
class Answer:
    """What goes back to the agent for one request: a whole body, or a stream of events."""

    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes = b""
    events: Iterable[bytes] | None = None  # server-sent events, without their blank line
    close: Callable[[], None] = lambda: None
    source: str = "upstream"  # upstream, gateway (an error it made) or cassette
    relayed_events: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def error(cls, status: int, protocol: str, message: str, kind: str) -> "Answer":
        body = json.dumps(error_body(protocol, message, kind, status)).encode()
        return cls(status, "application/json", {}, body, source="gateway")


@dataclasses.dataclass
class Session:
    """A lease and what the gateway does for it besides metering: recording, replay."""

    lease: Lease
    writer: CassetteWriter | None = None
    replay: Cassette | None = None
    in_flight: int = 0  # admitted requests not yet metered


class Gateway:
    """The run's LLM gateway; a context manager serving in background threads."""

    def __init__(
        self,
        sections: dict[str, LLMConfig],
        *,
        run_budget: float | None = None,
        spent: float = 0.0,
        record_dir: Path | None = None,
        replay_dir: Path | None = None,
        retries: int = 3,
        retry_wait: float = 1.0,
        timeout: float = 600.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"the LLM gateway listens on an IP address, not {host!r}") from None
        self.sections = dict(sections)
        # Replay never goes upstream: a section need not say where it would.
        self.bases = {} if replay_dir else {name: upstream_base(llm) for name, llm in self.sections.items()}
        self.ledger = Ledger(run_budget, spent)
        self.record_dir, self.replay_dir = record_dir, replay_dir
        self.retries, self.retry_wait = retries, retry_wait
        self.host, self.requested_port = host, port
        self.admin_secret = secrets.token_urlsafe(24)
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False)
        self._http: BackgroundHTTPServer | None = None
        self._unix: BackgroundUnixHTTPServer | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; agents get `<url>/v1` as their base_url."""
        if self._http is None:
            raise RuntimeError("the LLM gateway is not started")
        return self._http.url

    @property
    def socket_path(self) -> Path:
        """The unix socket it also serves on: what sealed agent containers reach (runtime/sealed.py)."""
        if self._unix is None:
            raise RuntimeError("the LLM gateway is not started")
        return self._unix.path

    def start(self) -> Gateway:
        if self._http is None:
            self._http = BackgroundHTTPServer(self.host, self.requested_port, _handler(self), "ohbench-llm-gateway")
            try:
                self._unix = BackgroundUnixHTTPServer(_handler(self), "ohbench-llm-gateway-unix")
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        for server in (self._http, self._unix):
            if server is not None:
                server.stop()
        self._http = self._unix = None
        self._client.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- leases (the admin API calls these) ---------------------------------------------

    def secrets(self) -> list[str]:
        """What a cassette must never hold: the real keys, the tokens, the admin secret."""
        with self._lock:
            tokens = list(self.sessions)
        return [s for llm in self.sections.values() for s in llm.secrets()] + tokens + [self.admin_secret]

    def open_lease(self, item: str, cassette: str, section: str, budget: float) -> Lease:
        """A new token for one item's agent run (a retried item gets a fresh one)."""
        if section not in self.sections:
            raise ValueError(f"no LLM section {section!r} in this run (sections: {', '.join(self.sections)})")
        lease = Lease("ohb-" + secrets.token_urlsafe(24), item, cassette, self.sections[section], budget)
        session = Session(lease)
        with self._lock:
            self.sessions[lease.token] = session
        if self.replay_dir is not None:
            session.replay = Cassette(self.replay_dir / CASSETTE_DIR / cassette, item)
        if self.record_dir is not None:
            session.writer = CassetteWriter(self.record_dir / CASSETTE_DIR / cassette, self.secrets())
        return lease

    def close_lease(self, token: str, settle_timeout: float = 10.0) -> Meter | None:
        """End a lease (its token stops working) and return its meter; None for an unknown token.

        A streamed answer is metered after its last byte reaches the agent, so the agent can be
        done before its last request is counted: wait (bounded) for requests still in flight.
        """
        with self._lock:
            session = self.sessions.get(token)
            if session is None:
                return None
            session.lease.closed = True
            self._settled.wait_for(lambda: session.in_flight == 0, timeout=settle_timeout)
            return Meter.from_dict(session.lease.meter.to_dict())

    def meter(self, token: str) -> Meter | None:
        with self._lock:
            session = self.sessions.get(token)
            return None if session is None else Meter.from_dict(session.lease.meter.to_dict())

    # -- agent traffic ----------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """Answer one agent request (see the module docstring)."""
        path = handler.path
        protocol = protocol_of(path)
        token = token_of(handler.headers, path)
        with self._lock:
            session = self.sessions.get(token or "")
        if session is None:
            message = "ohbench gateway: unknown or missing token (use the api_key the harness gave this task)"
            _reply(handler, Answer.error(401, protocol, message, "authentication_error"))
            return
        lease = session.lease
        if lease.closed:
            message = f"ohbench gateway: task {lease.item} is over: its token no longer works"
            _reply(handler, Answer.error(401, protocol, message, "authentication_error"))
            return
        payload = _json(body)
        if handler.command != "POST" or counts_tokens(path):
            self._passthrough(handler, session, path, protocol, body)
            return
        try:
            step = self.ledger.admit(lease)
        except BudgetRefused as exc:
            with self._lock:
                lease.meter.refused += 1
                lease.meter.refusal = lease.meter.refusal or str(exc)
            _reply(handler, Answer.error(402, protocol, str(exc), "budget_exceeded"))
            return
        started = time.monotonic()
        # Gemini names the model in the path, the others in the body.
        model = gemini_model(path) or (str(payload.get("model", "")) if isinstance(payload, dict) else "")
        with self._lock:
            lease.meter.models[model] = lease.meter.models.get(model, 0) + 1
            session.in_flight += 1
        try:
            self._answer_and_meter(handler, session, step, path, body, payload, protocol, started)
        finally:
            with self._lock:
                session.in_flight -= 1
                self._settled.notify_all()

    def _answer_and_meter(
        self,
        handler: BaseHTTPRequestHandler,
        session: Session,
        step: int,
        path: str,
        body: bytes,
        payload: Any,
        protocol: str,
        started: float,
    ) -> None:
        """Answer an admitted request, relay it to the agent, and settle its cost on the lease."""
        lease = session.lease
        try:
            answer = self._answer(handler, session, step, path, body, payload, protocol)
        except ReplayMiss as exc:
            self.ledger.release(lease)
            with self._lock:
                lease.meter.replay_error = lease.meter.replay_error or str(exc)
            _reply(handler, Answer.error(409, protocol, str(exc), "replay_miss"))
            return
        except BaseException:
            self.ledger.release(lease)
            raise
        usage: Usage | None = None
        try:
            usage = _relay(handler, answer, protocol, drop_usage_chunks=_adds_usage(path, payload))
        finally:
            cost = lease.llm.cost(usage.input_tokens, usage.output_tokens, usage.cached_tokens) if usage else 0.0
            latency = time.monotonic() - started
            with self._lock:
                if answer.status >= 400:
                    lease.meter.upstream_errors[str(answer.status)] = lease.meter.upstream_errors.get(str(answer.status), 0) + 1
                elif usage is None:
                    lease.meter.usage_missing += 1
            self.ledger.settle(lease, usage, cost, latency)
            if session.writer is not None:
                session.writer.write(_entry(step, handler.command, path, payload, body, answer, usage, cost, latency))

    def _answer(
        self, handler: BaseHTTPRequestHandler, session: Session, step: int, path: str, body: bytes, payload: Any, protocol: str
    ) -> Answer:
        """The answer to an admitted request: from the cassette, or from the upstream."""
        lease = session.lease
        if session.replay is not None:
            entry, changed = session.replay.answer(step, path, payload)
            with self._lock:
                lease.meter.replayed = True
                lease.meter.replay_changed += int(changed)
            return _from_entry(entry)
        if _adds_usage(path, payload):
            # The gateway meters streams from their usage chunk; the agent gets it only if it asked.
            options = payload.get("stream_options") or {}
            body = json.dumps({**payload, "stream_options": {**options, "include_usage": True}}).encode()
        request = self._client.build_request(
            handler.command,
            upstream_url(self.bases[lease.llm.name], path, lease.llm.api_key),
            headers=upstream_headers(handler.headers, lease.llm.api_key),
            content=body,
        )
        tally = Tally()
        try:
            response = send(self._client, request, self.retries, self.retry_wait, tally)
        except UpstreamUnreachable as exc:
            message = redact(f"ohbench gateway: the LLM upstream is unreachable: {exc}", lease.llm.secrets())
            return Answer.error(502, protocol, message, "upstream_unreachable")
        finally:
            with self._lock:
                lease.meter.upstream_requests += tally.sent
                lease.meter.retries += tally.retried
        content_type = response.headers.get("content-type", "application/json")
        headers = {name: response.headers[name] for name in FORWARDED_ANSWER_HEADERS if name in response.headers}
        if "text/event-stream" in content_type and response.status_code < 400:
            return Answer(response.status_code, content_type, headers, events=_events(response.iter_raw()), close=response.close)
        try:
            data = response.read()
        finally:
            response.close()
        return Answer(response.status_code, content_type, headers, data)

    def _passthrough(self, handler: BaseHTTPRequestHandler, session: Session, path: str, protocol: str, body: bytes) -> None:
        """A GET or DELETE (e.g. the model list), or a token count: forwarded or replayed, never metered."""
        method = handler.command
        if session.replay is not None:
            try:
                answer = _from_entry(session.replay.answer_other(method, path))
            except ReplayMiss as exc:
                answer = Answer.error(409, protocol, str(exc), "replay_miss")
            _reply(handler, answer)
            return
        llm = session.lease.llm
        try:
            response = self._client.request(
                method,
                upstream_url(self.bases[llm.name], path, llm.api_key),
                headers=upstream_headers(handler.headers, llm.api_key),
                content=body or None,
            )
            answer = Answer(response.status_code, response.headers.get("content-type", "application/json"), {}, response.content)
        except httpx.HTTPError as exc:
            message = redact(f"ohbench gateway: the LLM upstream is unreachable: {exc}", llm.secrets())
            answer = Answer.error(502, protocol, message, "upstream_unreachable")
        _reply(handler, answer)
        if session.writer is not None:
            session.writer.write(_entry(None, method, path, _json(body), body, answer, None, 0.0, 0.0))

    # -- admin --------------------------------------------------------------------------------

    def admin(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """The harness's side: leases and the run's spending (see the module docstring)."""
        if not hmac.compare_digest(handler.headers.get(ADMIN_HEADER, ""), self.admin_secret):
            _send_json(handler, 403, {"error": "ohbench gateway: admin requests need the run's admin secret"})
            return
        parts = route(handler.path[len(ADMIN_PREFIX) - 1 :]).strip("/").split("/")
        if handler.command == "GET" and parts == ["run"]:
            _send_json(handler, 200, {"spent_usd": self.ledger.spent, "run_budget": self.ledger.run_budget})
        elif handler.command == "POST" and parts == ["leases"]:
            request = _json(body)
            try:
                lease = self.open_lease(
                    str(request["item"]), str(request["cassette"]), str(request["section"]), float(request["budget"])
                )
            except (TypeError, KeyError, ValueError) as exc:
                _send_json(handler, 400, {"error": f"ohbench gateway: bad lease request: {exc}"})
                return
            _send_json(handler, 201, {"token": lease.token})
        elif handler.command in ("GET", "DELETE") and len(parts) == 2 and parts[0] == "leases":
            meter = self.close_lease(parts[1]) if handler.command == "DELETE" else self.meter(parts[1])
            if meter is None:
                _send_json(handler, 404, {"error": "ohbench gateway: no such lease"})
            else:
                _send_json(handler, 200, meter.to_dict())
        else:
            _send_json(handler, 404, {"error": f"ohbench gateway: no admin route {handler.command} {handler.path}"})


def _adds_usage(path: str, payload: Any) -> bool:
    """A streamed chat completion that did not ask for its usage chunk: the gateway asks for it."""
    if not (isinstance(payload, dict) and payload.get("stream") and route(path).endswith("/chat/completions")):
        return False
    options = payload.get("stream_options")
    return not (isinstance(options, dict) and options.get("include_usage"))


def _events(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Server-sent events out of a byte stream (a last event without its blank line included)."""
    buffer = b""
    for chunk in chunks:
        events, buffer = split_events(buffer + chunk)
        yield from events
    if buffer.strip():
        yield buffer.rstrip(b"\r\n")


def _relay(handler: BaseHTTPRequestHandler, answer: Answer, protocol: str, drop_usage_chunks: bool) -> Usage | None:
    """Send `answer` to the agent as it comes; the usage it reported (None for errors or none)."""
    if answer.events is None:
        _reply(handler, answer)
        return body_usage(protocol, _json(answer.body)) if answer.status < 400 else None
    handler.send_response(answer.status)
    handler.send_header("Content-Type", answer.content_type)
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    stream_usage = StreamUsage()
    try:
        for event in answer.events:
            answer.relayed_events.append(event.decode("utf-8", errors="replace"))
            payload = event_payload(event)
            stream_usage.feed(payload)
            if drop_usage_chunks and is_usage_only_chunk(payload):
                continue
            data = event + b"\n\n"
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True  # the agent hung up: stop reading the upstream
    finally:
        answer.close()
    return stream_usage.usage(protocol)


def _reply(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    handler.send_response(answer.status)
    handler.send_header("Content-Type", answer.content_type)
    handler.send_header("Content-Length", str(len(answer.body)))
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(answer.body)
    handler.wfile.flush()


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    _reply(handler, Answer(status, "application/json", {}, json.dumps(payload).encode(), source="gateway"))


def _entry(
    step: int | None, method: str, path: str, payload: Any, body: bytes, answer: Answer, usage: Usage | None, cost: float, latency: float
) -> dict[str, Any]:
    """One cassette line (see cassette.py)."""
    streamed = answer.events is not None
    return {
        "step": step,
        "method": method,
        "path": path,
        "request": payload if payload is not None else body.decode("utf-8", errors="replace"),
        "status": answer.status,
        "content_type": answer.content_type,
        "headers": answer.headers,
        "body": None if streamed else answer.body.decode("utf-8", errors="replace"),
        "events": answer.relayed_events if streamed else None,
        "source": answer.source,
        "usage": dataclasses.asdict(usage) if usage else None,
        "cost_usd": cost,
        "latency_s": round(latency, 4),
    }


def _from_entry(entry: dict[str, Any]) -> Answer:
    """A recorded answer, to be relayed like a live one."""
    events = entry.get("events")
    return Answer(
        int(entry["status"]),
        str(entry.get("content_type") or "application/json"),
        dict(entry.get("headers") or {}),
        b"" if events is not None else str(entry.get("body") or "").encode(),
        events=[event.encode() for event in events] if events is not None else None,
        source="cassette",
    )


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        data = b""
        while True:
            size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return data
            data += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: agents reuse their connection
        # Headers and body go out in separate writes: with Nagle on, a kept-alive connection
        # waits for the client's delayed ACK (about 40 ms) before the body.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _dispatch(self) -> None:
            body = _read_body(self)
            if self.path.startswith(ADMIN_PREFIX):
                gateway.admin(self, body)
            else:
                gateway.handle(self, body)

        do_GET = do_POST = do_DELETE = _dispatch

    return Handler
