"""A scripted OpenAI-compatible (and Anthropic-compatible) LLM server on 127.0.0.1, for tests and free dry runs.

The script (YAML or a dict) lists conversations; each request is answered statelessly:

    scripts:
      - match: "ohbench__textkit-1"   # regex searched in the first user message (optional)
        model: gpt-4o                  # only requests for this model (optional)
        responses:
          - content: "Let me look."
            tool_calls: [{name: bash, arguments: {command: "ls"}}]
            usage: {prompt_tokens: 120, completion_tokens: 30, cached_tokens: 0}
            latency: 0.05
          - content: "Done."

The first script that matches answers; the response index is the number of assistant
messages already in the request, so parallel agents each follow their own script and a
client retry gets the same answer. Past the end of its responses (or when no script
matches) the server still answers 200, with the assistant message "(script exhausted)" and
zero usage, so an agent ends its run instead of retrying an error; the request is logged
with `exhausted: true` (and `script: null` when nothing matched).

Response keys: content, tool_calls (name + arguments, a mapping or a JSON string),
finish_reason (default "tool_calls" with calls, else "stop"), usage (prompt_tokens,
completion_tokens, cached_tokens, reasoning_tokens), latency (seconds) and errors: HTTP
statuses (e.g. [429, 503]) answered, in order, to the first requests that reach this
response, before it is given (with `Retry-After: 0`). Unknown keys are an error, so a
typo fails at load rather than silently answering nothing.

POST /v1/chat/completions answers in OpenAI's format (streamed with `stream: true`; the
usage chunk only with `stream_options.include_usage`, as OpenAI does); POST /v1/messages
answers the same scripts in Anthropic's format (prompt_tokens minus cached_tokens as
input_tokens, cached_tokens as cache_read_input_tokens). Every request is logged with a
short hash of its credential (`auth_sha256`, from Authorization or x-api-key), never the
credential itself.

`python -m pytest_ohbench.testing.llm_server SCRIPT [--port N] [--log FILE]` serves until
Ctrl-C and prints its base_url.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import ipaddress
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from pytest_ohbench.gateway.http_server import BackgroundHTTPServer

EXHAUSTED = "(script exhausted)"
DEFAULT_MODEL = "scripted"  # what /v1/models lists when no script names a model
_RESPONSE_KEYS = {"content", "tool_calls", "finish_reason", "usage", "latency", "errors"}
_USAGE_KEYS = {"prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bare(model: str) -> str:
    """`openai/gpt-4o` -> `gpt-4o`: litellm strips the provider before it calls the server."""
    return model.split("/", 1)[-1]


@dataclasses.dataclass
class Script:
    """One scripted conversation."""

    responses: list[dict[str, Any]]
    match: re.Pattern[str] | None = None
    model: str | None = None

    def accepts(self, model: str, first_user_message: str) -> bool:
        """Whether this script answers a request for `model` opening with that user message."""
        if self.model and self.model != model and _bare(self.model) != _bare(model):
            return False
        return self.match is None or bool(self.match.search(first_user_message))


def load_scripts(script: Path | dict[str, Any]) -> list[Script]:
    """Parse a script file or dict; ValueError naming the file and script index."""
    where = str(script) if isinstance(script, Path) else "script"
    if isinstance(script, Path):
        try:
            data = yaml.safe_load(script.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{where}: cannot read the script: {' '.join(str(exc).split())}") from None
    else:
        data = script
    if not isinstance(data, dict) or not isinstance(data.get("scripts"), list):
        raise ValueError(f"{where}: expected a mapping with a 'scripts' list")
    scripts = []
    for index, entry in enumerate(data["scripts"]):
        at = f"{where}: scripts[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("responses"), list):
            raise ValueError(f"{at} needs a 'responses' list")
        unknown = set(entry) - {"match", "model", "responses"}
        if unknown:
            raise ValueError(f"{at} has unknown keys {sorted(unknown)} (known: match, model, responses)")
        if entry.get("match") is not None and not isinstance(entry["match"], str):
            raise ValueError(f"{at}.match must be a string (a regex)")
        if entry.get("model") is not None and not isinstance(entry["model"], str):
            raise ValueError(f"{at}.model must be a string")
        try:
            pattern = re.compile(entry["match"]) if entry.get("match") else None
        except re.error as exc:
            raise ValueError(f"{at}.match is not a valid regex: {exc}") from None
        for number, response in enumerate(entry["responses"]):
            _check_response(response, f"{at}.responses[{number}]")
        scripts.append(Script(entry["responses"], pattern, entry.get("model")))
    return scripts


def _check_response(response: Any, at: str) -> None:
    if not isinstance(response, dict):
        raise ValueError(f"{at} must be a mapping")
    unknown = set(response) - _RESPONSE_KEYS
    if unknown:
        raise ValueError(f"{at} has unknown keys {sorted(unknown)} (known: {', '.join(sorted(_RESPONSE_KEYS))})")
    if response.get("content") is not None and not isinstance(response["content"], str):
        raise ValueError(f"{at}.content must be a string")
    calls = response.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ValueError(f"{at}.tool_calls must be a list")
    for number, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError(f"{at}.tool_calls[{number}] needs a 'name' string")
        if not isinstance(call.get("arguments", {}), (dict, str)):
            raise ValueError(f"{at}.tool_calls[{number}].arguments must be a mapping or a JSON string")
    usage = response.get("usage") or {}
    if not isinstance(usage, dict) or set(usage) - _USAGE_KEYS:
        raise ValueError(f"{at}.usage takes only {', '.join(sorted(_USAGE_KEYS))}")
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in usage.values()):
        raise ValueError(f"{at}.usage counts must be non-negative integers")
    latency = response.get("latency", 0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
        raise ValueError(f"{at}.latency must be a non-negative number of seconds")
    if response.get("finish_reason") is not None and not isinstance(response["finish_reason"], str):
        raise ValueError(f"{at}.finish_reason must be a string")
    errors = response.get("errors", [])
    if not isinstance(errors, list) or any(isinstance(e, bool) or not isinstance(e, int) or not 400 <= e < 600 for e in errors):
        raise ValueError(f"{at}.errors must be a list of HTTP error statuses (400-599)")


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _usage(response: dict[str, Any]) -> dict[str, Any]:
    usage = response.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(usage.get("cached_tokens", 0))},
        "completion_tokens_details": {"reasoning_tokens": int(usage.get("reasoning_tokens", 0))},
    }


def credential_hash(value: str) -> str:
    """The short hash under which a request's credential is logged (tests compare it, no one reads it)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def anthropic_message(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion as an Anthropic message (content blocks, stop reason, cache-split usage)."""
    message = completion["choices"][0]["message"]
    usage = completion["usage"]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        arguments = call["function"]["arguments"]
        try:
            tool_input = json.loads(arguments) if arguments else {}
        except json.JSONDecodeError:
            tool_input = {"raw": arguments}
        blocks.append({"type": "tool_use", "id": call["id"].replace("call_", "toolu_"), "name": call["function"]["name"], "input": tool_input})
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return {
        "id": completion["id"].replace("chatcmpl-", "msg_"),
        "type": "message",
        "role": "assistant",
        "model": completion["model"],
        "content": blocks,
        "stop_reason": "tool_use" if message.get("tool_calls") else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["prompt_tokens"] - cached,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0,
            "output_tokens": usage["completion_tokens"],
        },
    }


def anthropic_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An Anthropic message as its stream: (event name, data) pairs."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        empty: dict[str, Any]
        delta: dict[str, Any]
        if block["type"] == "text":
            empty, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
        else:
            empty, delta = {**block, "input": {}}, {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                     "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _message(response: dict[str, Any], turn: int) -> tuple[dict[str, Any], str]:
    message: dict[str, Any] = {"role": "assistant", "content": response.get("content")}
    calls = []
    for index, call in enumerate(response.get("tool_calls") or []):
        arguments = call.get("arguments", {})
        calls.append({
            "id": f"call_{turn}_{index}",  # deterministic: a replayed run sees the same ids
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        })
    if calls:
        message["tool_calls"] = calls
    return message, response.get("finish_reason") or ("tool_calls" if calls else "stop")


class ScriptedLLMServer:
    """The server; a context manager that serves in a background thread."""

    def __init__(
        self, script: Path | dict[str, Any], host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None
    ) -> None:
        # Scripts may echo task text and the log holds whole requests: never expose them off the host.
        if not _is_loopback(host):
            raise ValueError(f"the scripted LLM server only listens on loopback, not {host!r}")
        self.scripts = load_scripts(script)
        self.host, self.requested_port, self.log_path = host, port, log_path
        self.requests: list[dict[str, Any]] = []
        self._failed: dict[tuple[int | None, int], int] = {}  # (script, turn) -> scripted errors given
        self._lock = threading.Lock()
        self._http: BackgroundHTTPServer | None = None

    @property
    def port(self) -> int:
        """The bound port (the OS picks one when constructed with port=0)."""
        if self._http is None:
            raise RuntimeError("the scripted LLM server is not started")
        return self._http.port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`: what api_base / base_url / OPENAI_BASE_URL take."""
        if self._http is None:
            raise RuntimeError("the scripted LLM server is not started")
        return self._http.url + "/v1"  # `localhost` shows as the 127.0.0.1 it bound

    def start(self) -> ScriptedLLMServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._http is None:
            self._http = BackgroundHTTPServer(self.host, self.requested_port, _handler(self), "scripted-llm")
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self, entry: dict[str, Any]) -> None:
        """Record one request in `requests` and, if set, the JSON-lines log file."""
        entry = {"time": time.time(), **entry}
        with self._lock:
            self.requests.append(entry)
            if self.log_path:
                with Path(self.log_path).open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")

    def select(self, body: dict[str, Any]) -> tuple[int | None, int, dict[str, Any] | None]:
        """(script index, turn, scripted response) for a request; response None past the end."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        model = str(body.get("model", ""))
        first_user = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
        # The turn is read off the request, not kept here: retries and parallel agents stay consistent.
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        for index, script in enumerate(self.scripts):
            if script.accepts(model, first_user):
                return index, turn, script.responses[turn] if turn < len(script.responses) else None
        return None, turn, None

    def scripted_error(self, index: int | None, turn: int, response: dict[str, Any] | None) -> int | None:
        """The status to fail this request with, while the response's `errors` last."""
        errors = (response or {}).get("errors") or []
        with self._lock:
            failed = self._failed.get((index, turn), 0)
            if failed >= len(errors):
                return None
            self._failed[(index, turn)] = failed + 1
        return int(errors[failed])

    def answer(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The chat.completion for a request body (None: fail it with answered["status"]), and what answered it."""
        index, turn, response = self.select(body)
        status = self.scripted_error(index, turn, response)
        if status is not None:
            return None, {"script": index, "turn": turn, "exhausted": False, "status": status}
        exhausted = response is None
        if response is None:
            response = {"content": EXHAUSTED}
        time.sleep(float(response.get("latency", 0)))
        message, finish = _message(response, turn)
        completion = {
            "id": f"chatcmpl-scripted-{'x' if index is None else index}-{turn}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "")),
            "system_fingerprint": "ohbench-scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(response),
        }
        return completion, {"script": index, "turn": turn, "exhausted": exhausted, "status": 200}


def _chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """The completion as stream chunks: the delta, the finish reason, then (if asked for) a last chunk with usage."""
    choice = completion["choices"][0]
    delta = dict(choice["message"])
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(delta["tool_calls"])]
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    return [
        base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
    ] + ([base | {"choices": [], "usage": completion["usage"]}] if include_usage else [])


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _fail(self, status: int, message: str, kind: str, **logged: Any) -> None:
            server.log({"method": self.command, "path": self.path, "status": status, "error": message, **logged})
            self._send(status, _error(message, kind))

        def _route(self) -> str:
            # Clients differ on the /v1 prefix and query strings; both name the same endpoint.
            path = self.path.split("?", 1)[0].rstrip("/")
            return path[3:] if path.startswith("/v1/") else path

        def do_GET(self) -> None:
            if self._route() != "/models":
                self._fail(404, f"no route GET {self.path}", "not_found")
                return
            names = sorted({s.model for s in server.scripts if s.model} or {DEFAULT_MODEL})
            server.log({"method": "GET", "path": self.path, "status": 200})
            self._send(200, {"object": "list", "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "ohbench"} for n in names]})

        def _credential(self) -> str | None:
            value = self.headers.get("Authorization") or self.headers.get("x-api-key")
            return credential_hash(value) if value else None

        def _stream(self, events: list[str]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in events:
                self.wfile.write(event.encode())
            self.wfile.flush()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""  # read it even for a 404: keep the socket sane
            route = self._route()
            if route not in ("/chat/completions", "/messages"):
                self._fail(404, f"no route POST {self.path}", "not_found")
                return
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._fail(400, f"invalid JSON body: {exc}", "invalid_request_error")
                return
            if not isinstance(body, dict) or not isinstance(body.get("messages", []), list):
                self._fail(400, "the body must be a JSON object with a 'messages' list", "invalid_request_error", body=body)
                return
            completion, answered = server.answer(body)
            server.log({"method": "POST", "path": self.path, "body": body, "auth_sha256": self._credential(), **answered})
            if completion is None:
                data = json.dumps(_error(f"scripted error {answered['status']}", "scripted_error")).encode()
                self.send_response(answered["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
                return
            if route == "/messages":
                message = anthropic_message(completion)
                if not body.get("stream"):
                    self._send(200, message)
                else:
                    self._stream([f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in anthropic_events(message)])
                return
            if not body.get("stream"):
                self._send(200, completion)
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream([f"data: {json.dumps(chunk)}\n\n" for chunk in _chunks(completion, include_usage)] + ["data: [DONE]\n\n"])

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve SCRIPT on 127.0.0.1 until Ctrl-C (for dry runs that cost nothing)."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_ohbench.testing.llm_server",
        description="Serve a scripted OpenAI-compatible LLM on 127.0.0.1.",
    )
    parser.add_argument("script", type=Path, help="YAML script (see this module's docstring)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port; default 8000)")
    parser.add_argument("--log", type=Path, default=None, metavar="FILE", help="append every request here as JSON lines")
    args = parser.parse_args(argv)
    try:
        server = ScriptedLLMServer(args.script, port=args.port, log_path=args.log)
        server.start()
    except (ValueError, OSError) as exc:
        parser.exit(2, f"error: {exc}\n")
    try:
        print(server.base_url, flush=True)  # alone on its line: scripts read it
        print("serving the scripted LLM; Ctrl-C stops", file=sys.stderr, flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
