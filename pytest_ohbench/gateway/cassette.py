"""Cassettes: one item's LLM exchanges, recorded in the run folder and replayed from it.

`reports/<run>/cassettes/<suite>/<instance>/<model>-a<attempt>.jsonl` (`<model>-<agent>-a<attempt>.jsonl`
in a run of several agents) holds one JSON line
per exchange: the step (the request's number within the item), the request as the agent
sent it, and the upstream's answer (status, content type, and the body or the stream's
events), with every secret masked.

Replay answers the n-th request of an item with the n-th recorded answer. The request must
have the recording's shape: the same endpoint, model, streaming flag and conversation
roles. Its text may differ (a command's output carries timings, a harness change rewords
an observation): such steps are counted, not refused. A request past the end of the
cassette, or of another shape, is an error that names the item and the step.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pytest_ohbench.core.llm import redact
from pytest_ohbench.core.record import safe_name

CASSETTE_DIR = "cassettes"


class ReplayMiss(Exception):
    """A request the cassette does not hold; the message names the item and the step."""


def cassette_name(suite: str, instance_id: str, model: str, attempt: int, agent: str = "") -> str:
    """The cassette's path below `cassettes/`: stable across runs with other models or ids.
    `agent`: given when a run compares agents, each of which makes its own requests."""
    who = f"{safe_name(model)}-{safe_name(agent)}" if agent else safe_name(model)
    return f"{safe_name(suite)}/{safe_name(instance_id)}/{who}-a{attempt}.jsonl"


def route(path: str) -> str:
    """A request path without its query and /v1 prefixes: `/v1/chat/completions` -> `/chat/completions`."""
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    while bare.startswith("/v1/") or bare == "/v1":
        bare = bare[3:] or "/"
    return bare


def shape(path: str, body: Any) -> dict[str, Any]:
    """What a replayed request must share with the recorded one (see the module docstring)."""
    body = body if isinstance(body, dict) else {}
    # The conversation: chat and Anthropic `messages`, responses `input` items, Gemini `contents`.
    turns = next((body[key] for key in ("messages", "input", "contents") if isinstance(body.get(key), list)), None)
    roles = [str(m.get("role", m.get("type", ""))) for m in turns if isinstance(m, dict)] if isinstance(turns, list) else []
    return {"endpoint": route(path), "model": body.get("model"), "stream": bool(body.get("stream")), "roles": roles}


def _difference(recorded: dict[str, Any], got: dict[str, Any]) -> str:
    for key in ("endpoint", "model", "stream"):
        if recorded[key] != got[key]:
            return f"{key} {got[key]!r}, recorded {recorded[key]!r}"
    return f"{len(got['roles'])} messages ({' '.join(got['roles'][-3:])} last), recorded {len(recorded['roles'])} " \
           f"({' '.join(recorded['roles'][-3:])} last)"


class CassetteWriter:
    """Appends one item's exchanges (masked) to its cassette; a new lease starts it afresh."""

    def __init__(self, path: Path, secrets: list[str]) -> None:
        self.path, self.secrets = path, secrets
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")  # a retried item records its last try only

    def write(self, entry: dict[str, Any]) -> None:
        line = redact(json.dumps(entry, sort_keys=True), self.secrets)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class Cassette:
    """A recorded item, for replay: its LLM calls by step, its other requests by method and path."""

    def __init__(self, path: Path, item: str) -> None:
        self.path, self.item = path, item
        self.steps: dict[int, dict[str, Any]] = {}
        self.others: dict[tuple[str, str], dict[str, Any]] = {}  # unmetered GET/DELETE answers
        if not path.is_file():
            return
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReplayMiss(f"ohbench replay: {path}:{number}: not a cassette entry ({exc})") from None
            if entry.get("step") is None:
                self.others[(entry.get("method", "GET"), route(entry.get("path", "")))] = entry
            else:
                self.steps[int(entry["step"])] = entry

    def answer(self, step: int, path: str, body: Any) -> tuple[dict[str, Any], bool]:
        """The recorded exchange for request `step`, and whether its request's text differed."""
        where = f"ohbench replay: {self.item} step {step}"
        if not self.path.is_file():
            raise ReplayMiss(f"{where}: no cassette {self.path} (was the run recorded with --ohbench-llm-record?)")
        entry = self.steps.get(step)
        if entry is None:
            raise ReplayMiss(f"{where}: not in the cassette, which holds {len(self.steps)} requests ({self.path})")
        recorded = shape(entry.get("path", ""), entry.get("request"))
        got = shape(path, body)
        if recorded != got:
            raise ReplayMiss(f"{where}: the request is not the recorded one: {_difference(recorded, got)} ({self.path})")
        return entry, entry.get("request") != body

    def answer_other(self, method: str, path: str) -> dict[str, Any]:
        """The recorded answer to an unmetered request (a GET of the model list, say)."""
        entry = self.others.get((method, route(path)))
        if entry is None:
            raise ReplayMiss(f"ohbench replay: {self.item}: {method} {route(path)} is not in the cassette ({self.path})")
        return entry
