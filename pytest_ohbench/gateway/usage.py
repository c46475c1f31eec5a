"""Which protocol a request speaks, and the token usage out of its answers, whole or streamed.

Three protocols, told apart by the request's path:
- Anthropic messages (`/v1/messages`, `/v1/messages/count_tokens`): `input_tokens` leave
  out the tokens read from the prompt cache (`cache_read_input_tokens`) and written to it
  (`cache_creation_input_tokens`); a stream reports them in message_start and the final
  output count in message_delta;
- Gemini (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent`, `:countTokens`):
  `usageMetadata` with promptTokenCount (cachedContentTokenCount of it), and
  candidatesTokenCount plus thoughtsTokenCount for the output; a stream repeats it in its
  chunks, the last one final;
- OpenAI, every other path: chat completions (`prompt_tokens`, `completion_tokens` and
  their details) and responses (`input_tokens`, `output_tokens` and their details; a stream
  reports them in response.completed).

Every shape is normalised to the OpenAI meaning: input counts all prompt tokens (cached and
cache-written ones included), output counts all generated tokens (reasoning included).
Cache writes are not counted apart: config.toml has no price for them, so they cost what
other input tokens cost.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

ANTHROPIC = "anthropic"
OPENAI = "openai"
GEMINI = "gemini"
_EVENT_END = re.compile(rb"\r?\n\r?\n")
# Gemini's methods on a model; the version prefix is the client's (v1beta, v1, v1alpha).
GEMINI_METHOD = re.compile(r"/models/([^/:]+):([A-Za-z]+)$")
# Endpoints that count a request's tokens: free, so never metered as an LLM call.
_TOKEN_COUNTS = ("/messages/count_tokens", "/responses/input_tokens", ":countTokens")


def _bare_path(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/")


def protocol_of(path: str) -> str:
    """The API a request path speaks (see the module docstring)."""
    bare = _bare_path(path)
    if bare.endswith(("/messages", "/messages/count_tokens")):
        return ANTHROPIC
    if GEMINI_METHOD.search(bare):
        return GEMINI
    return OPENAI


def gemini_model(path: str) -> str | None:
    """The model a Gemini path names (`/v1beta/models/gemini-2.5-pro:generateContent` -> gemini-2.5-pro)."""
    match = GEMINI_METHOD.search(_bare_path(path))
    return match.group(1) if match else None


def counts_tokens(path: str) -> bool:
    """A token-count request: free at every provider, so not an LLM call."""
    return _bare_path(path).endswith(_TOKEN_COUNTS)


@dataclasses.dataclass
class Usage:
    """One response's tokens, in the OpenAI meaning (see the module docstring)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from the prompt cache
    reasoning_tokens: int = 0  # of output_tokens, spent on reasoning


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _detail(details: Any, key: str) -> int:
    return _count(details.get(key)) if isinstance(details, dict) else 0


def parse_usage(protocol: str, usage: dict[str, Any]) -> Usage:
    """A usage block of `protocol` (see the module docstring), normalised."""
    if protocol == ANTHROPIC:
        read = _count(usage.get("cache_read_input_tokens"))
        written = _count(usage.get("cache_creation_input_tokens"))
        return Usage(_count(usage.get("input_tokens")) + read + written, _count(usage.get("output_tokens")), read)
    if protocol == GEMINI:
        thoughts = _count(usage.get("thoughtsTokenCount"))
        # Tokens of tool results Gemini fetched itself (search, code execution) are prompt tokens too.
        prompt_count = _count(usage.get("promptTokenCount")) + _count(usage.get("toolUsePromptTokenCount"))
        return Usage(prompt_count, _count(usage.get("candidatesTokenCount")) + thoughts, _count(usage.get("cachedContentTokenCount")), thoughts)
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    prompt_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    # DeepSeek and some proxies name cache hits their own way.
    cached = (
        _detail(prompt_details, "cached_tokens")
        or _count(usage.get("prompt_cache_hit_tokens"))
        or _count(usage.get("cache_read_input_tokens"))
    )
    return Usage(_count(prompt), _count(completion), cached, _detail(completion_details, "reasoning_tokens"))


def usage_blocks(payload: Any) -> list[dict[str, Any]]:
    """The usage blocks in a response body or a stream event, outermost first.

    A chat completion or chunk carries `usage`; a responses-API event carries it in
    `response`; Anthropic's message_start in `message` and its message_delta in `usage`;
    Gemini's answers and chunks in `usageMetadata`; a Gemini stream read without
    `alt=sse` is a JSON array of chunks.
    """
    if isinstance(payload, list):
        return [block for element in payload for block in usage_blocks(element)]
    if not isinstance(payload, dict):
        return []
    found = []
    for holder in (payload, payload.get("response"), payload.get("message")):
        if isinstance(holder, dict) and isinstance(holder.get("usage"), dict):
            found.append(holder["usage"])
    if isinstance(payload.get("usageMetadata"), dict):
        found.append(payload["usageMetadata"])
    return found


class StreamUsage:
    """Usage assembled from a stream's events: later figures override earlier ones.

    Anthropic reports the prompt in message_start and the final output count in
    message_delta; OpenAI sends one usage chunk (or response.completed) at the end; Gemini
    repeats its counts in every chunk; all fit a running merge.
    """

    def __init__(self) -> None:
        self.merged: dict[str, Any] = {}

    def feed(self, payload: Any) -> None:
        for block in usage_blocks(payload):
            self.merged.update({key: value for key, value in block.items() if value is not None})

    def usage(self, protocol: str) -> Usage | None:
        """The stream's usage, or None when it reported none."""
        return parse_usage(protocol, self.merged) if self.merged else None


def body_usage(protocol: str, payload: Any) -> Usage | None:
    """The usage a whole (not event-streamed) answer reports, or None."""
    merged = StreamUsage()
    merged.feed(payload)
    return merged.usage(protocol)


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete server-sent events at the start of `buffer` (without their blank line), and the rest."""
    events: list[bytes] = []
    while True:
        match = _EVENT_END.search(buffer)
        if match is None:
            return events, buffer
        events.append(buffer[: match.start()])
        buffer = buffer[match.end() :]


def event_payload(event: bytes) -> Any:
    """The JSON of an event's data lines; None for `[DONE]`, comments or non-JSON data."""
    lines = event.decode("utf-8", errors="replace").splitlines()
    data = "\n".join(line[5:].lstrip(" ") for line in lines if line.startswith("data:"))
    if not data or data == "[DONE]":
        return None
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        return None


def is_usage_only_chunk(payload: Any) -> bool:
    """An OpenAI chat chunk with usage and no choices: what stream_options.include_usage adds."""
    return isinstance(payload, dict) and payload.get("choices") == [] and isinstance(payload.get("usage"), dict)
