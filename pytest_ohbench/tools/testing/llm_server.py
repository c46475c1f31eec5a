"""A scripted LLM server on 127.0.0.1 that speaks the agents' protocols, for tests and free dry runs.

The script (YAML or a dict) lists conversations; each request is answered statelessly:

    scripts:
      - match: "ohbench__textkit-1"   # regex searched in the conversation's opening (optional)
        model: gpt-4o                  # only requests for this model (optional)
        tools: [Bash, Edit]            # only requests that offer these tools (optional)
        responses:
          - content: "Let me look."
            tool_calls: [{name: Bash, arguments: {command: "ls"}}]
            usage: {prompt_tokens: 120, completion_tokens: 30, cached_tokens: 0}
            latency: 0.05
          - content: "Done."

**Which script answers.** The first script whose keys all accept the request:
- `match`, a regex searched in the conversation's opening: the text of the user messages
  before the model's first answer. That is the task prompt, with whatever context the agent
  sends before it (Codex and Gemini CLI send their environment as earlier user messages,
  Claude Code as blocks of the same one); later user messages (tool output) never count.
  An agent that writes exchanges of its own before the task (aider: its edit format's
  examples, the files it shares, each answered by its own "Ok." or "Ok, ...") has them left
  out: an assistant message with no tool call whose text starts with "Ok." or "Ok," is such
  an acknowledgement, and the opening and the answers count from after the last one (so a
  scripted answer should not start that way);
- `model`, the model asked for, with or without a provider prefix (`openai/gpt-4o`);
- `tools`, tool names the request must offer, all of them: one script per agent for the same
  task, each calling that agent's own tools (names below). `tools: []` accepts only requests
  that offer no tool at all (aider's text edit formats, or an agent's side calls for a title
  or a summary).

**Which response.** The response index is the number of answers the model already gave in
the request's conversation: assistant messages (chat completions, Anthropic messages),
`model` contents (Gemini), and for the responses API each run of model output items
(message, function_call, custom_tool_call, reasoning...). Codex records each call with its
output, so a function_call whose call_id this server gave as a later call of one answer
(`call_<turn>_<n>`, n > 0) still belongs to that answer. With `previous_response_id` the
stored response's turns count too. So parallel agents each follow their own script and a
client retry gets the same answer. Past the end of its responses (or when no script
matches) the server still answers 200, with the assistant message "(script exhausted)" and
zero usage, so an agent ends its run instead of retrying an error; the request is logged
with `exhausted: true` (and `script: null` when nothing matched).

**Response keys**: content, tool_calls (name + arguments, a mapping or a JSON string),
finish_reason (OpenAI's: default "tool_calls" with calls, else "stop"; "length" is each
protocol's max-tokens stop), usage, latency (seconds) and errors: HTTP statuses (e.g.
[429, 503]) answered, in order, to the first requests that reach this response, before it
is given (with `Retry-After: 0`, in the protocol's own error shape). Unknown keys are an
error, so a typo fails at load rather than silently answering nothing.

**Usage** keys have OpenAI's meaning: prompt_tokens counts every prompt token, cached_tokens
(read from the prompt cache) and cache_creation_tokens (written to it) included;
completion_tokens counts every generated token, reasoning_tokens included. Each protocol
reports them its own way:
- chat completions: prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens,
  completion_tokens_details.reasoning_tokens;
- responses: input_tokens, output_tokens, input_tokens_details.cached_tokens (and
  cache_write_tokens), output_tokens_details.reasoning_tokens;
- Anthropic: input_tokens (prompt minus cached minus cache_creation), cache_read_input_tokens,
  cache_creation_input_tokens, output_tokens;
- Gemini: promptTokenCount, cachedContentTokenCount, candidatesTokenCount (completion minus
  reasoning), thoughtsTokenCount.

**Endpoints** (with or without the /v1 prefix):
- POST /v1/chat/completions: OpenAI chat completions, streamed with `stream: true` (the usage
  chunk only with `stream_options.include_usage`, as OpenAI does);
- POST /v1/responses: OpenAI responses, whole or streamed (response.created, then per item
  response.output_item.added, response.output_text.delta or
  response.function_call_arguments.delta/done, response.output_item.done, and
  response.completed with the usage). Calls are function_call items, or custom_tool_call
  items for a tool the request declares as `type: custom` (Codex's freeform apply_patch: give
  its patch text as `arguments`, a string, or as `arguments: {input: ...}`).
  `previous_response_id` continues a response this server stored (`store` not false), as
  OpenAI does. POST /v1/responses/input_tokens counts a request's input;
- POST /v1/messages: Anthropic messages, whole or streamed (message_start, per block
  content_block_start, content_block_delta with text_delta or input_json_delta,
  content_block_stop, then message_delta with the stop reason and usage, message_stop);
  calls are tool_use blocks, answered by tool_result blocks. POST /v1/messages/count_tokens
  answers `{"input_tokens": N}`;
- POST /v1beta/models/{model}:generateContent and :streamGenerateContent (or /v1/models/...;
  `?alt=sse`, as the SDKs ask: server-sent events; without it a JSON array): Gemini; calls
  are functionCall parts, answered by functionResponse parts. :countTokens answers
  `{"totalTokens": N}`;
- GET /v1/models lists the scripts' models (in Anthropic's shape when the request has an
  anthropic-version header), GET /v1beta/models in Gemini's.

A token count answers the prompt_tokens of the response the request would get, or, where
that says nothing, a rough estimate (a token per 4 characters of the request).

Pointing agents at it (any key works): Claude Code `ANTHROPIC_BASE_URL=<root_url>`; Codex a
`[model_providers.<id>]` with `base_url = "<base_url>"` and `wire_api = "responses"`; Gemini CLI
`GOOGLE_GEMINI_BASE_URL=<root_url>` with `GEMINI_API_KEY`; Qwen Code, aider and other
OpenAI-compatible clients `OPENAI_BASE_URL=<base_url>`. (`root_url` is `http://127.0.0.1:<port>`,
`base_url` the same with `/v1`.)

Every request is logged with its protocol and a short hash of its credential (`auth_sha256`:
from Authorization, x-api-key, x-goog-api-key or the `key` query parameter), never the
credential itself.

`python -m pytest_ohbench.tools.testing.llm_server SCRIPT [--port N] [--log FILE]` serves until
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
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from pytest_ohbench.gateway.http_server import BackgroundHTTPServer

# The agents' own tools, as their requests name them (for `tools:` and `tool_calls`), with
# the arguments each takes. Looked up in the agents' sources, or for closed ones in their
# published schemas:
# - Claude Code (Anthropic messages; closed source: its Agent SDK's docs and many public
#   re-implementations give the schemas): Bash {command, timeout, description,
#   run_in_background}, Edit {file_path, old_string, new_string, replace_all}, MultiEdit
#   {file_path, edits}, Write {file_path, content}, Read {file_path, offset, limit}, Glob
#   {pattern, path}, Grep {pattern, path, glob, output_mode}, TodoWrite {todos}, Task. Its
#   side calls (a title, a topic check, on a small model) offer no tools.
# - Codex CLI (openai/codex, codex-rs core/src/tools: the responses API): shell_command
#   {command: string, workdir, timeout_ms} (older releases: shell {command: [argv], workdir,
#   timeout_ms}; unified exec: exec_command {cmd, ...}), apply_patch as a custom (freeform)
#   tool whose input is the "*** Begin Patch ... *** End Patch" text (a function
#   {input: patch} for models without custom tools), update_plan {plan, explanation},
#   view_image {path}.
# - Gemini CLI (google-gemini/gemini-cli, packages/core/src/tools/definitions/
#   base-declarations.ts): run_shell_command {command, description, dir_path,
#   is_background}, replace {file_path, old_string, new_string, instruction,
#   allow_multiple}, write_file {file_path, content}, read_file {file_path, start_line,
#   end_line}, list_directory {dir_path}, glob {pattern}, grep_search {pattern, ...},
#   write_todos {todos}.
# - Qwen Code (QwenLM/qwen-code, packages/core/src/tools/tool-names.ts; OpenAI chat
#   completions): Gemini CLI's names, except edit (formerly replace) {file_path, old_string,
#   new_string, replace_all}; also save_memory, agent, web_fetch.
# - opencode (anomalyco/opencode, formerly sst/opencode, packages/opencode/src/tool): bash
#   {command, timeout, workdir, description}, edit {filePath, oldString, newString,
#   replaceAll}, write {filePath, content}, read {filePath, offset, limit}, glob, grep, list,
#   todowrite; GPT models get apply_patch {patchText} instead of edit and write.
# - aider: no tools (`tools: []`); its edit formats are text in `content`, e.g. the diff
#   format's "path/to/file.py\n```python\n<<<<<<< SEARCH\n...\n=======\n...\n>>>>>>> REPLACE\n```".
# - OpenHands: execute_bash {command}, str_replace_editor {command, path, old_str, new_str,
#   file_text, ...}, think {thought}, finish {message, task_completed}.

EXHAUSTED = "(script exhausted)"
DEFAULT_MODEL = "scripted"  # what the model lists hold when no script names a model
_RESPONSE_KEYS = {"content", "tool_calls", "finish_reason", "usage", "latency", "errors"}
_USAGE_KEYS = {"prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens"}
_SCRIPT_KEYS = ("match", "model", "tools", "responses")

CHAT, RESPONSES, ANTHROPIC, GEMINI = "chat", "responses", "anthropic", "gemini"
_GEMINI_PATH = re.compile(r"^(?:/v1(?:beta|alpha)?)?/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
# An agent's own acknowledgement of an exchange it wrote before the task (aider's "Ok." and "Ok, ...").
_ACK = re.compile(r"Ok[.,]")
# A later call of one answer, as this server names calls: it continues that answer's turn.
_LATER_CALL = re.compile(r"^call_\d+_[1-9]\d*$")
# Responses-API input items the model produced (as opposed to user, system and tool-output items).
_MODEL_ITEMS = {
    "function_call", "custom_tool_call", "reasoning", "local_shell_call", "web_search_call", "file_search_call",
    "computer_call", "code_interpreter_call", "image_generation_call", "mcp_call",
}
_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                     413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
_GOOGLE_STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


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


@dataclasses.dataclass(frozen=True)
class Request:
    """What selects a script and a response, read off a request of any protocol."""

    model: str
    opening: str  # the user text before the model's first answer
    turn: int  # answers the model already gave in this conversation
    tools: frozenset[str]  # the tool names the request offers
    custom_tools: frozenset[str] = frozenset()  # responses API: those declared `type: custom`


@dataclasses.dataclass
class Script:
    """One scripted conversation."""

    responses: list[dict[str, Any]]
    match: re.Pattern[str] | None = None
    model: str | None = None
    tools: tuple[str, ...] | None = None  # None: any request; (): only requests offering no tool

    def accepts(self, model: str, opening: str, tools: Iterable[str] = ()) -> bool:
        """Whether this script answers a request for `model` with that opening, offering `tools`."""
        if self.model and self.model != model and _bare(self.model) != _bare(model):
            return False
        if self.tools is not None:
            offered = set(tools)
            if (not self.tools and offered) or not set(self.tools) <= offered:
                return False
        return self.match is None or bool(self.match.search(opening))


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
        unknown = set(entry) - set(_SCRIPT_KEYS)
        if unknown:
            raise ValueError(f"{at} has unknown keys {sorted(unknown)} (known: {', '.join(_SCRIPT_KEYS)})")
        if entry.get("match") is not None and not isinstance(entry["match"], str):
            raise ValueError(f"{at}.match must be a string (a regex)")
        if entry.get("model") is not None and not isinstance(entry["model"], str):
            raise ValueError(f"{at}.model must be a string")
        tools = entry.get("tools")
        if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools)):
            raise ValueError(f"{at}.tools must be a list of tool names ([] for requests that offer none)")
        try:
            pattern = re.compile(entry["match"]) if entry.get("match") else None
        except re.error as exc:
            raise ValueError(f"{at}.match is not a valid regex: {exc}") from None
        for number, response in enumerate(entry["responses"]):
            _check_response(response, f"{at}.responses[{number}]")
        scripts.append(Script(entry["responses"], pattern, entry.get("model"), None if tools is None else tuple(tools)))
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
    # The parts are counted within the totals: Anthropic's input_tokens and Gemini's
    # candidatesTokenCount are the differences, which must not go negative.
    if usage.get("cached_tokens", 0) + usage.get("cache_creation_tokens", 0) > usage.get("prompt_tokens", 0):
        raise ValueError(f"{at}.usage: cached_tokens + cache_creation_tokens are part of prompt_tokens and cannot exceed it")
    if usage.get("reasoning_tokens", 0) > usage.get("completion_tokens", 0):
        raise ValueError(f"{at}.usage: reasoning_tokens are part of completion_tokens and cannot exceed it")
    latency = response.get("latency", 0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
        raise ValueError(f"{at}.latency must be a non-negative number of seconds")
    if response.get("finish_reason") is not None and not isinstance(response["finish_reason"], str):
        raise ValueError(f"{at}.finish_reason must be a string")
    errors = response.get("errors", [])
    if not isinstance(errors, list) or any(isinstance(e, bool) or not isinstance(e, int) or not 400 <= e < 600 for e in errors):
        raise ValueError(f"{at}.errors must be a list of HTTP error statuses (400-599)")


def credential_hash(value: str) -> str:
    """The short hash under which a request's credential is logged (tests compare it, no one reads it)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


# -- reading requests ---------------------------------------------------------------------------


def _text(content: Any) -> str:
    """The text of a message's content: a string, or the text of its parts (any protocol's)."""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("text") is not None)
    return content if isinstance(content, str) else ""


def _opening_and_turns(turns: Iterable[tuple[str, str]]) -> tuple[str, int]:
    """(user text before the first answer, answers) from a conversation's (kind, text) turns.

    Kinds: "user" (its text may open the conversation), "model" (an answer), "ack" (the
    agent's own acknowledgement: what came before it was the agent's preamble), other (neither).
    """
    opening: list[str] = []
    answers = 0
    for kind, text in turns:
        if kind == "ack":
            opening, answers = [], 0
        elif kind == "model":
            answers += 1
        elif kind == "user" and not answers and text:
            opening.append(text)
    return "\n".join(opening), answers


def _messages_request(body: dict[str, Any], tools: frozenset[str]) -> Request:
    """Chat completions and Anthropic messages: a `messages` list of roles."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    opening, turn = _opening_and_turns((_message_kind(m), _text(m.get("content"))) for m in messages)
    return Request(str(body.get("model", "")), opening, turn, tools)


def _message_kind(message: dict[str, Any]) -> str:
    """A chat or Anthropic message's kind for _opening_and_turns: user, model, ack or other."""
    role, content = message.get("role"), message.get("content")
    if role == "user":
        return "user"
    if role != "assistant":
        return ""
    calls = message.get("tool_calls") or (isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") == "tool_use" for part in content))
    return "ack" if not calls and _ACK.match(_text(content)) else "model"


def _chat_tools(body: dict[str, Any]) -> frozenset[str]:
    names = [(t.get("function") or {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    names += [f.get("name") for f in body.get("functions") or [] if isinstance(f, dict)]  # the legacy form
    return frozenset(str(n) for n in names if n)


def _anthropic_tools(body: dict[str, Any]) -> frozenset[str]:
    # Server tools (bash_20250124, text_editor_...) carry a name too.
    return frozenset(str(t["name"]) for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name"))


def _responses_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("input")
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    return [item for item in items or [] if isinstance(item, dict)]


def _responses_turns(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The items as (kind, text) turns: a run of model items is one answer (see the module docstring)."""
    turns: list[tuple[str, str]] = []
    in_answer = False
    for item in items:
        kind = item.get("type") or "message"
        is_model = kind in _MODEL_ITEMS or (kind == "message" and item.get("role") == "assistant")
        if is_model:
            if not in_answer and not _LATER_CALL.match(str(item.get("call_id", ""))):
                turns.append(("model", ""))
            in_answer = True
            continue
        in_answer = False
        if kind == "message" and item.get("role") == "user":
            turns.append(("user", _text(item.get("content"))))
    return turns


def _responses_tools(body: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """(every tool name, those of custom tools): a built-in tool (local_shell...) is named by its type."""
    names, custom = set(), set()
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            name = str(tool.get("name") or tool.get("type") or "")
            names.add(name)
            if tool.get("type") == "custom":
                custom.add(name)
    names.discard("")
    return frozenset(names), frozenset(custom)


def _gemini_request(model: str, body: dict[str, Any]) -> Request:
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    kinds = {"user": "user", "model": "model"}
    # A content without a role is the user's (as the API takes it).
    opening, turn = _opening_and_turns((kinds.get(str(c.get("role") or "user"), ""), _text(c.get("parts"))) for c in contents)
    names: set[str] = set()
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        for key, value in tool.items():  # the API takes both spellings
            if key in ("functionDeclarations", "function_declarations"):
                names.update(str(d["name"]) for d in value or [] if isinstance(d, dict) and d.get("name"))
            else:
                names.add(key)  # googleSearch, codeExecution...
    return Request(model, opening, turn, frozenset(names))


def _estimate_tokens(body: Any) -> int:
    """A rough count where the script gives none: a token per 4 characters of the request."""
    return max(1, len(json.dumps(body)) // 4)


# -- the answer, then its shape in each protocol ------------------------------------------------


@dataclasses.dataclass
class Call:
    """One tool call of an answer."""

    id: str  # `call_<turn>_<n>`: deterministic, so a replayed run sees the same ids
    name: str
    arguments: dict[str, Any] | str  # as scripted

    def json_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def input(self) -> dict[str, Any]:
        """The arguments as an object (Anthropic's input, Gemini's args); not JSON: {"raw": text}."""
        if isinstance(self.arguments, dict):
            return self.arguments
        try:
            value = json.loads(self.arguments) if self.arguments else {}
        except json.JSONDecodeError:
            return {"raw": self.arguments}
        return value if isinstance(value, dict) else {"raw": self.arguments}

    def freeform(self) -> str:
        """The input of a custom (freeform) tool: the text itself, or the `input` of a mapping."""
        if isinstance(self.arguments, str):
            return self.arguments
        value = self.arguments.get("input")
        return value if isinstance(value, str) else json.dumps(self.arguments)


@dataclasses.dataclass
class Reply:
    """One scripted answer, before a protocol shapes it."""

    id: str  # `scripted-<script>-<turn>`
    model: str
    text: str | None
    calls: list[Call]
    finish: str  # OpenAI's finish reason: stop, tool_calls, length...
    usage: dict[str, int]  # the script's usage keys, all present

    @property
    def uncached_input(self) -> int:
        return self.usage["prompt_tokens"] - self.usage["cached_tokens"] - self.usage["cache_creation_tokens"]


def make_reply(index: int | None, turn: int, response: dict[str, Any], model: str) -> Reply:
    """The neutral answer for a scripted response."""
    usage = {key: int((response.get("usage") or {}).get(key, 0)) for key in sorted(_USAGE_KEYS)}
    calls = [Call(f"call_{turn}_{n}", call["name"], call.get("arguments", {})) for n, call in enumerate(response.get("tool_calls") or [])]
    finish = response.get("finish_reason") or ("tool_calls" if calls else "stop")
    return Reply(f"scripted-{'x' if index is None else index}-{turn}", model, response.get("content"), calls, finish, usage)


def chat_completion(reply: Reply) -> dict[str, Any]:
    """The answer as an OpenAI chat.completion."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.json_arguments()}} for c in reply.calls
        ]
    usage = reply.usage
    return {
        "id": f"chatcmpl-{reply.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "system_fingerprint": "ohbench-scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage["prompt_tokens"],
            "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
            "completion_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        },
    }


def chat_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
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


def _halves(text: str) -> list[str]:
    """Text in two deltas (one when short): clients must join the pieces of a stream."""
    middle = len(text) // 2
    return [text[:middle], text[middle:]] if middle else [text]


def anthropic_message(reply: Reply) -> dict[str, Any]:
    """The answer as an Anthropic message (content blocks, stop reason, cache-split usage)."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    blocks += [{"type": "tool_use", "id": c.id.replace("call_", "toolu_"), "name": c.name, "input": c.input()} for c in reply.calls]
    stop = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}.get(reply.finish, reply.finish)
    return {
        "id": f"msg_{reply.id}",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": blocks,
        "stop_reason": "tool_use" if reply.calls and stop == "end_turn" else stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.uncached_input,
            "cache_read_input_tokens": reply.usage["cached_tokens"],
            "cache_creation_input_tokens": reply.usage["cache_creation_tokens"],
            "output_tokens": reply.usage["completion_tokens"],
        },
    }


def anthropic_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An Anthropic message as its stream: (event name, data) pairs, as the API sends them."""
    usage = message["usage"]
    # message_start holds the prompt's counts and a first output count; message_delta the final ones.
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    for index, block in enumerate(message["content"]):
        empty: dict[str, Any]
        deltas: list[dict[str, Any]]
        if block["type"] == "text":
            empty = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _halves(block["text"])]
        else:
            empty = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _halves(json.dumps(block["input"]))]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                     "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def responses_response(reply: Reply, body: dict[str, Any], custom_tools: frozenset[str]) -> dict[str, Any]:
    """The answer as an OpenAI responses-API response object."""
    output: list[dict[str, Any]] = []
    if reply.text:
        output.append({"id": f"msg_{reply.id}", "type": "message", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}]})
    for n, call in enumerate(reply.calls):
        if call.name in custom_tools:
            output.append({"id": f"ctc_{reply.id}-{n}", "type": "custom_tool_call", "status": "completed",
                           "call_id": call.id, "name": call.name, "input": call.freeform()})
        else:
            output.append({"id": f"fc_{reply.id}-{n}", "type": "function_call", "status": "completed",
                           "call_id": call.id, "name": call.name, "arguments": call.json_arguments()})
    usage = reply.usage
    incomplete = reply.finish == "length"
    return {
        "id": f"resp_{reply.id}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": reply.model,
        "output": output,
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": bool(body.get("store", True)),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "metadata": body.get("metadata") or {},
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": usage["cached_tokens"]}
            | ({"cache_write_tokens": usage["cache_creation_tokens"]} if usage["cache_creation_tokens"] else {}),
            "output_tokens": usage["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        },
    }


def responses_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A response as its stream of events (each with its `type`), as the API sends them."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **data: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **data})

    pending = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        ids = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
            emit("response.content_part.added", **ids, content_index=0, part={"type": "output_text", "text": "", "annotations": []})
            for piece in _halves(text):
                emit("response.output_text.delta", **ids, content_index=0, delta=piece, logprobs=[])
            emit("response.output_text.done", **ids, content_index=0, text=text, logprobs=[])
            emit("response.content_part.done", **ids, content_index=0, part=item["content"][0])
        elif item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""})
            for piece in _halves(item["arguments"]):
                emit("response.function_call_arguments.delta", **ids, delta=piece)
            emit("response.function_call_arguments.done", **ids, name=item["name"], arguments=item["arguments"])
        else:  # custom_tool_call
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "input": ""})
            for piece in _halves(item["input"]):
                emit("response.custom_tool_call_input.delta", **ids, delta=piece)
            emit("response.custom_tool_call_input.done", **ids, input=item["input"])
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.incomplete" if response["status"] == "incomplete" else "response.completed", response=response)
    return events


def _gemini_usage(reply: Reply) -> dict[str, Any]:
    usage = reply.usage
    candidates = usage["completion_tokens"] - usage["reasoning_tokens"]
    metadata = {
        "promptTokenCount": usage["prompt_tokens"],
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage["prompt_tokens"] + usage["completion_tokens"],
    }
    if usage["cached_tokens"]:  # the API leaves out the counts it has none of
        metadata["cachedContentTokenCount"] = usage["cached_tokens"]
    if usage["reasoning_tokens"]:
        metadata["thoughtsTokenCount"] = usage["reasoning_tokens"]
    return metadata


def gemini_response(reply: Reply) -> dict[str, Any]:
    """The answer as a Gemini GenerateContentResponse."""
    parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    parts += [{"functionCall": {"name": c.name, "args": c.input()}} for c in reply.calls]
    finish = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}.get(reply.finish, reply.finish.upper())
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": _gemini_usage(reply),
        "modelVersion": reply.model,
        "responseId": reply.id,
    }


def gemini_chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A response as the chunks of its stream: the text, then the calls with the finish reason and full usage.

    Like the API, the first chunk already counts the prompt; the last has the final figures.
    """
    candidate = response["candidates"][0]
    parts = candidate["content"]["parts"]
    texts = [part for part in parts if "text" in part]
    head = {"modelVersion": response["modelVersion"], "responseId": response["responseId"]}
    usage = response["usageMetadata"]
    opening = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}], "usageMetadata": opening, **head}
        for part in texts for piece in _halves(part["text"])
    ]
    rest = [part for part in parts if "text" not in part]
    chunks.append({"candidates": [{**candidate, "content": {"role": "model", "parts": rest}}], "usageMetadata": usage, **head})
    return chunks


def error_body(protocol: str, status: int, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An error in the protocol's own shape, so the client raises its own error type.

    `kind` is OpenAI's error type; Anthropic's and Google's follow from the status, as theirs do.
    """
    if protocol == ANTHROPIC:
        return {"type": "error", "error": {"type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message}}
    if protocol == GEMINI:
        return {"error": {"code": status, "message": message, "status": _GOOGLE_STATUSES.get(status, "UNKNOWN")}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# -- the server ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Stored:
    """A response kept for `previous_response_id`: what its conversation held."""

    opening: str
    turns: int  # answers in the conversation, this response's included


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
        self._stored: dict[str, _Stored] = {}  # response id -> its conversation (responses API)
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
        return self.root_url + "/v1"

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:<port>`: what clients that add the API version themselves take (Gemini's, Anthropic's)."""
        if self._http is None:
            raise RuntimeError("the scripted LLM server is not started")
        return self._http.url  # `localhost` shows as the 127.0.0.1 it bound

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

    def models(self) -> list[str]:
        """The model names the model lists hold."""
        return sorted({s.model for s in self.scripts if s.model} or {DEFAULT_MODEL})

    def select(self, request: Request) -> tuple[int | None, dict[str, Any] | None]:
        """(script index, scripted response) for a request; response None past the end."""
        for index, script in enumerate(self.scripts):
            if script.accepts(request.model, request.opening, request.tools):
                return index, script.responses[request.turn] if request.turn < len(script.responses) else None
        return None, None

    def scripted_error(self, index: int | None, turn: int, response: dict[str, Any] | None) -> int | None:
        """The status to fail this request with, while the response's `errors` last."""
        errors = (response or {}).get("errors") or []
        with self._lock:
            failed = self._failed.get((index, turn), 0)
            if failed >= len(errors):
                return None
            self._failed[(index, turn)] = failed + 1
        return int(errors[failed])

    def reply(self, request: Request) -> tuple[Reply | None, dict[str, Any]]:
        """The answer to a request (None: fail it with answered["status"]), and what answered it."""
        index, response = self.select(request)
        answered = {"script": index, "turn": request.turn, "exhausted": response is None, "status": 200}
        status = self.scripted_error(index, request.turn, response)
        if status is not None:
            return None, {**answered, "exhausted": False, "status": status}
        response = response if response is not None else {"content": EXHAUSTED}
        time.sleep(float(response.get("latency", 0)))
        return make_reply(index, request.turn, response, request.model), answered

    def count_tokens(self, request: Request, body: Any) -> tuple[int | None, int]:
        """(script index, tokens) for a token count (see the module docstring); it spends no scripted error."""
        index, response = self.select(request)
        prompt = int(((response or {}).get("usage") or {}).get("prompt_tokens", 0))
        return index, prompt or _estimate_tokens(body)

    def responses_request(self, body: dict[str, Any]) -> Request:
        """A responses-API request, continued from its previous response; KeyError: no such stored response."""
        tools, custom = _responses_tools(body)
        opening, turns = _opening_and_turns(_responses_turns(_responses_items(body)))
        previous = body.get("previous_response_id")
        if previous:
            with self._lock:
                stored = self._stored[str(previous)]
            opening, turns = stored.opening, stored.turns + turns
        return Request(str(body.get("model", "")), opening, turns, tools, custom)

    def store_response(self, response_id: str, request: Request) -> None:
        """Keep a response for later `previous_response_id` requests."""
        with self._lock:
            self._stored[response_id] = _Stored(request.opening, request.turn + 1)


def _sse(events: Iterable[tuple[str | None, Any]]) -> list[str]:
    """Server-sent events: `event:` lines where the protocol names its events."""
    return [(f"event: {name}\n" if name else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n" for name, data in events]


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _fail(self, protocol: str, status: int, message: str, **logged: Any) -> None:
            server.log({"method": self.command, "path": self.path, "protocol": protocol, "status": status, "error": message, **logged})
            self._send(status, error_body(protocol, status, message))

        def _path(self) -> str:
            return urlsplit(self.path).path.rstrip("/")

        def _route(self) -> str:
            # Clients differ on the /v1 prefix and query strings; both name the same endpoint.
            path = self._path()
            return path[3:] if path.startswith("/v1/") else path

        def _query(self) -> dict[str, list[str]]:
            return parse_qs(urlsplit(self.path).query)

        def _credential(self) -> str | None:
            value = (self.headers.get("Authorization") or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")
                     or (self._query().get("key") or [""])[0])
            return credential_hash(value) if value else None

        def _stream(self, events: list[str]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in events:
                self.wfile.write(event.encode())
            self.wfile.flush()

        def do_GET(self) -> None:
            route = self._route()
            names = server.models()
            if route in ("/models", "/v1beta/models"):
                server.log({"method": "GET", "path": self.path, "status": 200})
            if route == "/models" and self.headers.get("anthropic-version"):
                data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"} for n in names]
                self._send(200, {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]})
            elif route == "/models":
                self._send(200, {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "ohbench"} for n in names]})
            elif route == "/v1beta/models":
                methods = ["generateContent", "streamGenerateContent", "countTokens"]
                self._send(200, {"models": [{"name": f"models/{_bare(n)}", "displayName": n, "supportedGenerationMethods": methods}
                                            for n in names]})
            else:
                self._fail(CHAT, 404, f"no route GET {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""  # read it even for a 404: keep the socket sane
            route = self._route()
            gemini = _GEMINI_PATH.match(route)
            protocol = {"/chat/completions": CHAT, "/responses": RESPONSES, "/responses/input_tokens": RESPONSES,
                        "/messages": ANTHROPIC, "/messages/count_tokens": ANTHROPIC}.get(route, GEMINI if gemini else "")
            if not protocol:
                self._fail(CHAT, 404, f"no route POST {self.path}")
                return
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._fail(protocol, 400, f"invalid JSON body: {exc}")
                return
            listed = {CHAT: "messages", ANTHROPIC: "messages", RESPONSES: "input", GEMINI: "contents"}[protocol]
            if not isinstance(body, dict) or not isinstance(body.get(listed, []), (list, str) if protocol == RESPONSES else list):
                self._fail(protocol, 400, f"the body must be a JSON object with a '{listed}' list", body=body)
                return
            if gemini:
                self._gemini(gemini.group(1), gemini.group(2), body)
            elif protocol == RESPONSES:
                self._responses(route, body)
            elif protocol == ANTHROPIC:
                self._anthropic(route, body)
            else:
                self._chat(body)

        def _answer(self, protocol: str, request: Request, body: dict[str, Any]) -> Reply | None:
            """The request's reply, logged; None once a scripted error has been sent instead."""
            reply, answered = server.reply(request)
            server.log({"method": "POST", "path": self.path, "protocol": protocol, "body": body,
                        "auth_sha256": self._credential(), **answered})
            if reply is None:
                status = answered["status"]
                self._send(status, error_body(protocol, status, f"scripted error {status}", "scripted_error"), {"Retry-After": "0"})
            return reply

        def _counted(self, protocol: str, request: Request, body: dict[str, Any], answer: Callable[[int], dict[str, Any]]) -> None:
            """Answer a token count: `answer` shapes the count."""
            index, tokens = server.count_tokens(request, body)
            server.log({"method": "POST", "path": self.path, "protocol": protocol, "body": body, "auth_sha256": self._credential(),
                        "script": index, "turn": request.turn, "status": 200, "counted": True})
            self._send(200, answer(tokens))

        def _chat(self, body: dict[str, Any]) -> None:
            reply = self._answer(CHAT, _messages_request(body, _chat_tools(body)), body)
            if reply is None:
                return
            completion = chat_completion(reply)
            if not body.get("stream"):
                self._send(200, completion)
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(_sse([(None, chunk) for chunk in chat_chunks(completion, include_usage)] + [(None, "[DONE]")]))

        def _anthropic(self, route: str, body: dict[str, Any]) -> None:
            request = _messages_request(body, _anthropic_tools(body))
            if route == "/messages/count_tokens":
                self._counted(ANTHROPIC, request, body, lambda tokens: {"input_tokens": tokens})
                return
            reply = self._answer(ANTHROPIC, request, body)
            if reply is None:
                return
            message = anthropic_message(reply)
            if body.get("stream"):
                self._stream(_sse(anthropic_events(message)))
            else:
                self._send(200, message)

        def _responses(self, route: str, body: dict[str, Any]) -> None:
            try:
                request = server.responses_request(body)
            except KeyError:
                previous = body.get("previous_response_id")
                self._fail(RESPONSES, 400, f"Previous response with id '{previous}' not found.", body=body)
                return
            if route == "/responses/input_tokens":
                self._counted(RESPONSES, request, body, lambda tokens: {"object": "response.input_tokens", "input_tokens": tokens})
                return
            reply = self._answer(RESPONSES, request, body)
            if reply is None:
                return
            response = responses_response(reply, body, request.custom_tools)
            if body.get("store", True):
                server.store_response(response["id"], request)
            if body.get("stream"):
                self._stream(_sse((event["type"], event) for event in responses_events(response)))
            else:
                self._send(200, response)

        def _gemini(self, model: str, method: str, body: dict[str, Any]) -> None:
            request = _gemini_request(model, body)
            if method == "countTokens":
                # The body is a request's contents, or a whole request under generateContentRequest.
                inner = body.get("generateContentRequest")
                if isinstance(inner, dict):
                    request = _gemini_request(model, inner)
                self._counted(GEMINI, request, body, lambda tokens: {"totalTokens": tokens})
                return
            reply = self._answer(GEMINI, request, body)
            if reply is None:
                return
            response = gemini_response(reply)
            if method == "generateContent":
                self._send(200, response)
            elif (self._query().get("alt") or [""])[0] == "sse":
                self._stream([f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in gemini_chunks(response)])
            else:  # without alt=sse the API streams one JSON array
                self._send(200, gemini_chunks(response))

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve SCRIPT on 127.0.0.1 until Ctrl-C (for dry runs that cost nothing)."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_ohbench.tools.testing.llm_server",
        description="Serve a scripted LLM (OpenAI chat and responses, Anthropic messages, Gemini) on 127.0.0.1.",
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
