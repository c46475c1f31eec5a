"""The LLM gateway in each agent protocol: official SDKs -> gateway -> the scripted LLM on 127.0.0.1.

Anthropic messages (anthropic), OpenAI responses (openai) and Gemini (google-genai), whole
and streamed, with a tool call round trip: the gateway forwards with the real key, meters
the exact tokens and cost the script's usage gives at the section's prices, shapes its own
errors in each protocol's format, and records and replays the exchanges.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.gateway.cassette import CASSETTE_DIR, cassette_name
from pytest_ohbench.gateway.meter import BUDGET_EXCEEDED, Meter
from pytest_ohbench.gateway.server import Gateway
from pytest_ohbench.gateway.upstream import token_of, upstream_url
from pytest_ohbench.gateway.usage import ANTHROPIC, GEMINI, OPENAI, Usage, body_usage, counts_tokens, parse_usage, protocol_of
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

SECRET = "sk-real-key-NEVER-IN-AGENTS-7f3a"
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_cost_per_token": 1e-7}
MODELS = {"claude": "anthropic/claude-x", "codex": "openai/gpt-5", "gemini": "gemini/gemini-2.5-pro"}
BASH = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
CODEX_TOOLS: list[Any] = [{"type": "function", "name": "shell_command", "parameters": {"type": "object", "properties": {}}}]
GEMINI_CONFIG = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="run_shell_command")])])


def usage(prompt: int, completion: int, cached: int = 0, cache_creation: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached,
            "cache_creation_tokens": cache_creation, "reasoning_tokens": reasoning}


def cost(prompt: int, completion: int, cached: int = 0) -> float:
    """By hand, at PRICES: cached input at the cache-read price, the rest of the input (cache
    writes included) at the input price, all output (reasoning included) at the output price."""
    return (prompt - cached) * 1e-6 + cached * 1e-7 + completion * 2e-6


SCRIPT = {"scripts": [
    {"tools": ["Bash"], "responses": [
        {"content": "Let me look.", "tool_calls": [{"name": "Bash", "arguments": {"command": "ls"}}],
         "usage": usage(1000, 50, cached=600, cache_creation=100)},
        {"content": "Done.", "usage": usage(1400, 60, cached=1000)},
    ]},
    {"tools": ["shell_command"], "responses": [
        {"content": "Checking.", "tool_calls": [{"name": "shell_command", "arguments": {"command": "ls"}}],
         "usage": usage(2000, 90, cached=1500, reasoning=40)},
        {"content": "Done.", "usage": usage(2500, 10, cached=2000)},
    ]},
    {"tools": ["run_shell_command"], "responses": [
        {"content": "Running.", "tool_calls": [{"name": "run_shell_command", "arguments": {"command": "ls"}}],
         "usage": usage(3000, 70, cached=1000, reasoning=30)},
        {"content": "Done.", "usage": usage(3300, 20)},
    ]},
    {"match": "flaky", "responses": [{"content": "made it", "errors": [429], "usage": usage(100, 5)}]},
    {"responses": [{"content": "cheap", "usage": usage(100, 5)}, {"content": "again", "usage": usage(100, 5)}]},
]}


@pytest.fixture
def server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(SCRIPT) as running:
        yield running


def sections(server: ScriptedLLMServer) -> dict[str, LLMConfig]:
    return {name: LLMConfig(name=name, model=model, api_key=SECRET, base_url=server.base_url, **PRICES) for name, model in MODELS.items()}


class Agents:
    """Each protocol's SDK pointed at the gateway with an item's token (held, so no client is dropped mid-test)."""

    def __init__(self, gateway: Gateway, token: str) -> None:
        self.claude = anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0)
        self.codex = openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0)
        # Gemini CLI's SDK asks v1beta at the base URL it is given (GOOGLE_GEMINI_BASE_URL).
        self.gemini = genai.Client(api_key=token, http_options=types.HttpOptions(base_url=gateway.url, api_version="v1beta"))

    def claude_conversation(self, stream: bool) -> list[str]:
        """Claude Code's shape: a tool_use answered by a tool_result, then the end (the second call streamed if asked)."""
        messages: list[Any] = [{"role": "user", "content": "fix the bug"}]
        first = self.claude.messages.create(model="claude-x", max_tokens=100, tools=[BASH], messages=messages)
        call = next(block for block in first.content if block.type == "tool_use")
        messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "file.py"}]}]
        if stream:
            with self.claude.messages.stream(model="claude-x", max_tokens=100, tools=[BASH], messages=messages) as events:
                second = events.get_final_message()
        else:
            second = self.claude.messages.create(model="claude-x", max_tokens=100, tools=[BASH], messages=messages)
        return [block.text for message in (first, second) for block in message.content if block.type == "text"]

    def codex_conversation(self, stream: bool) -> list[str]:
        """Codex's shape: the whole history each time (store false), a function_call then its output."""
        items: list[Any] = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]}]
        first = self.codex.responses.create(model="gpt-5", input=items, tools=CODEX_TOOLS, store=False)
        call = next(item for item in first.output if item.type == "function_call")
        items += [item.model_dump(exclude_none=True) for item in first.output]
        items.append({"type": "function_call_output", "call_id": call.call_id, "output": "file.py"})
        if stream:
            with self.codex.responses.stream(model="gpt-5", input=items, tools=CODEX_TOOLS, store=False) as events:
                second = events.get_final_response()
        else:
            second = self.codex.responses.create(model="gpt-5", input=items, tools=CODEX_TOOLS, store=False)
        return [first.output_text, second.output_text]

    def gemini_conversation(self, stream: bool) -> list[str]:
        """Gemini CLI's shape: a functionCall answered by a functionResponse."""
        contents: list[Any] = [types.Content(role="user", parts=[types.Part(text="fix the bug")])]
        first = self.gemini.models.generate_content(model="gemini-2.5-pro", contents=contents, config=GEMINI_CONFIG)
        assert first.candidates and first.candidates[0].content and first.function_calls
        contents += [first.candidates[0].content, types.Content(role="user", parts=[
            types.Part.from_function_response(name=first.function_calls[0].name or "", response={"output": "file.py"})])]
        if stream:
            second = "".join(c.text or "" for c in self.gemini.models.generate_content_stream(
                model="gemini-2.5-pro", contents=contents, config=GEMINI_CONFIG))
        else:
            second = self.gemini.models.generate_content(model="gemini-2.5-pro", contents=contents, config=GEMINI_CONFIG).text or ""
        return [first.text or "", second]


def converse(gateway: Gateway, section: str, stream: bool, cassette: str = "s/t-1/m-a1.jsonl") -> tuple[list[str], Meter]:
    lease = gateway.open_lease("suite.jsonl::t-1", cassette, section, budget=0)
    texts = getattr(Agents(gateway, lease.token), f"{section}_conversation")(stream)
    meter = gateway.close_lease(lease.token)
    assert meter is not None
    return texts, meter


# What each section's two-step conversation costs, by hand from SCRIPT: (input, cached, output, reasoning, cost).
EXPECTED = {
    "claude": (1000 + 1400, 600 + 1000, 50 + 60, 0, cost(1000, 50, 600) + cost(1400, 60, 1000)),
    "codex": (2000 + 2500, 1500 + 2000, 90 + 10, 40, cost(2000, 90, 1500) + cost(2500, 10, 2000)),
    "gemini": (3000 + 3300, 1000, 70 + 20, 30, cost(3000, 70, 1000) + cost(3300, 20)),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("section", ["claude", "codex", "gemini"])
def test_each_protocol_is_forwarded_with_the_real_key_and_metered_exactly(server: ScriptedLLMServer, section: str, stream: bool) -> None:
    with Gateway(sections(server)) as gateway:
        texts, meter = converse(gateway, section, stream)
    assert texts[-1] == "Done." and texts[0] in ("Let me look.", "Checking.", "Running.")
    input_tokens, cached, output, reasoning, dollars = EXPECTED[section]
    assert (meter.calls, meter.input_tokens, meter.cached_tokens, meter.output_tokens, meter.reasoning_tokens) == (
        2, input_tokens, cached, output, reasoning)
    assert meter.cost_usd == pytest.approx(dollars, rel=1e-12)
    assert (meter.usage_missing, meter.upstream_requests, meter.upstream_errors) == (0, 2, {})
    assert meter.models == {{"claude": "claude-x", "codex": "gpt-5", "gemini": "gemini-2.5-pro"}[section]: 2}
    assert [r["turn"] for r in server.requests] == [0, 1] and [bool(r["path"].count("stream")) or bool(r["body"].get("stream"))
                                                               for r in server.requests] == [False, stream]
    # The upstream only ever saw the real key, in the header the SDK used.
    expected = {credential_hash(SECRET), credential_hash(f"Bearer {SECRET}")}
    assert {r["auth_sha256"] for r in server.requests} <= expected


def test_token_counts_are_forwarded_unmetered(server: ScriptedLLMServer) -> None:
    with Gateway(sections(server)) as gateway:
        claude = gateway.open_lease("t-1", "s/t-1/claude-a1.jsonl", "claude", budget=0)
        google = gateway.open_lease("t-2", "s/t-2/gemini-a1.jsonl", "gemini", budget=0)
        agents = Agents(gateway, claude.token)
        counted = agents.claude.messages.count_tokens(model="claude-x", tools=[BASH], messages=[{"role": "user", "content": "go"}])
        gemini_agents = Agents(gateway, google.token)
        total = gemini_agents.gemini.models.count_tokens(model="gemini-2.5-pro", contents="go").total_tokens
        meters = gateway.close_lease(claude.token), gateway.close_lease(google.token)
    assert counted.input_tokens == 1000 and (total or 0) > 0
    assert all(m is not None and (m.calls, m.cost_usd, m.usage_missing) == (0, 0.0, 0) for m in meters)
    assert [r["path"] for r in server.requests] == ["/v1/messages/count_tokens", "/v1beta/models/gemini-2.5-pro:countTokens"]


def test_gemini_key_in_the_query_is_swapped_for_the_real_key(server: ScriptedLLMServer) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}], "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]}
    with Gateway(sections(server)) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/gemini-a1.jsonl", "gemini", budget=0)
        with httpx.Client(base_url=gateway.url) as client:
            # An agent given the gateway's .../v1 URL, whose client adds its own version.
            whole = client.post(f"/v1/v1beta/models/gemini-2.5-pro:generateContent?key={lease.token}", json=body).json()
            with client.stream("POST", f"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key={lease.token}", json=body) as answer:
                chunks = [json.loads(line[5:]) for line in answer.iter_lines() if line.startswith("data:")]
        meter = gateway.close_lease(lease.token)
    assert whole["usageMetadata"]["promptTokenCount"] == 3000 and chunks[-1]["usageMetadata"] == whole["usageMetadata"]
    assert [r["path"] for r in server.requests] == [
        f"/v1beta/models/gemini-2.5-pro:generateContent?key={SECRET}",
        f"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key={SECRET}"]
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash(SECRET)}
    assert meter is not None and (meter.calls, meter.input_tokens, meter.output_tokens) == (2, 6000, 140)
    assert meter.cost_usd == pytest.approx(2 * cost(3000, 70, 1000), rel=1e-12)


def call(agents: Agents, protocol: str, text: str = "hello") -> str:
    """One request of `protocol` with no tools (the catch-all scripts answer it)."""
    if protocol == "anthropic":
        block = agents.claude.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": text}]).content[0]
        return block.text if block.type == "text" else ""
    if protocol == "responses":
        return agents.codex.responses.create(model="gpt-5", input=text).output_text
    return agents.gemini.models.generate_content(model="gemini-2.5-pro", contents=text).text or ""


SECTION_OF = {"anthropic": "claude", "responses": "codex", "gemini": "gemini"}


def error_details(error: Exception) -> tuple[int, str, Any]:
    """(HTTP status, message, body) of an SDK's error, whichever SDK raised it."""
    if isinstance(error, genai_errors.APIError):
        return error.code, str(error.message), error.details
    assert isinstance(error, (anthropic.APIStatusError, openai.APIStatusError))
    return error.status_code, error.message, error.body


@pytest.mark.parametrize("protocol", ["anthropic", "responses", "gemini"])
def test_the_gateways_refusals_are_shaped_per_protocol(server: ScriptedLLMServer, protocol: str) -> None:
    errors: dict[str, tuple[type[Exception], ...]] = {
        "anthropic": (anthropic.AuthenticationError, anthropic.APIStatusError),
        "responses": (openai.AuthenticationError, openai.APIStatusError),
        "gemini": (genai_errors.ClientError, genai_errors.ClientError)}
    unknown, over_budget = errors[protocol]
    with Gateway(sections(server)) as gateway:
        with pytest.raises(unknown) as refused:
            call(Agents(gateway, "ohb-guessed-token"), protocol)
        lease = gateway.open_lease("suite.jsonl::t-1", "s/t-1/m-a1.jsonl", SECTION_OF[protocol], budget=cost(100, 5) / 2)
        agents = Agents(gateway, lease.token)
        assert call(agents, protocol) == "cheap"  # starts under budget, ends over it
        with pytest.raises(over_budget) as spent:
            call(agents, protocol)
        meter = gateway.close_lease(lease.token)
    status, message, body = error_details(refused.value)
    assert status == 401 and "ohbench gateway: unknown or missing token" in message
    budget_status, budget_message, budget_body = error_details(spent.value)
    assert budget_status == 402 and f"{BUDGET_EXCEEDED}: task suite.jsonl::t-1 has spent" in budget_message
    if protocol == "anthropic":
        assert body["error"]["type"] == "authentication_error" and budget_body["error"]["type"] == "budget_exceeded"
    elif protocol == "responses":
        assert body["code"] == "authentication_error" and budget_body["code"] == "budget_exceeded"
    else:
        assert isinstance(refused.value, genai_errors.APIError) and refused.value.status == "UNAUTHENTICATED"
        assert isinstance(spent.value, genai_errors.APIError) and spent.value.status == "RESOURCE_EXHAUSTED"
        assert body["error"]["details"][0]["reason"] == "AUTHENTICATION_ERROR"
        assert budget_body["error"]["details"][0]["reason"] == "BUDGET_EXCEEDED"
    assert meter is not None and (meter.calls, meter.refused) == (1, 1)
    assert len(server.requests) == 1  # neither refusal went upstream


@pytest.mark.parametrize("protocol", ["anthropic", "responses", "gemini"])
def test_an_upstream_429_reaches_each_sdk_as_its_own_error_then_the_answer(server: ScriptedLLMServer, protocol: str) -> None:
    errors = {"anthropic": anthropic.RateLimitError, "responses": openai.RateLimitError, "gemini": genai_errors.ClientError}
    with Gateway(sections(server), retries=0) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/m-a1.jsonl", SECTION_OF[protocol], budget=0)
        agents = Agents(gateway, lease.token)
        with pytest.raises(errors[protocol]) as limited:
            call(agents, protocol, "flaky")
        answer = call(agents, protocol, "flaky")  # the agent's own retry
        meter = gateway.close_lease(lease.token)
    status, message, _ = error_details(limited.value)
    assert (status, answer) == (429, "made it") and "scripted error 429" in message
    assert meter is not None and (meter.calls, meter.upstream_errors, meter.retries) == (2, {"429": 1}, 0)
    assert meter.cost_usd == pytest.approx(cost(100, 5), rel=1e-12)


@pytest.mark.parametrize("protocol", ["anthropic", "responses", "gemini"])
def test_the_gateway_retries_a_429_itself_when_allowed(server: ScriptedLLMServer, protocol: str) -> None:
    with Gateway(sections(server), retries=1, retry_wait=0.01) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/m-a1.jsonl", SECTION_OF[protocol], budget=0)
        answer = call(Agents(gateway, lease.token), protocol, "flaky")
        meter = gateway.close_lease(lease.token)
    assert answer == "made it"
    assert meter is not None and (meter.calls, meter.retries, meter.upstream_requests, meter.upstream_errors) == (1, 1, 2, {})


@pytest.mark.parametrize("section", ["claude", "codex", "gemini"])
def test_record_then_replay_each_protocol_without_the_upstream(server: ScriptedLLMServer, section: str, tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    name = cassette_name("examples", "t-1", section, 1)
    llms = sections(server)
    with Gateway(llms, record_dir=recorded) as gateway:
        live_texts, live = converse(gateway, section, stream=True, cassette=name)
    text = (recorded / CASSETTE_DIR / name).read_text()
    assert len(text.splitlines()) == 2 and SECRET not in text and "ohb-" not in text
    server.stop()
    with Gateway(llms, replay_dir=recorded) as gateway:
        replay_texts, again = converse(gateway, section, stream=True, cassette=name)
    assert replay_texts == live_texts and again.replayed and again.upstream_requests == 0
    for key in ("calls", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_usd"):
        assert getattr(again, key) == getattr(live, key)


def test_protocols_keys_and_urls() -> None:
    assert [protocol_of(p) for p in ("/v1/messages?beta=true", "/v1/messages/count_tokens", "/v1/responses",
                                     "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "/v1/chat/completions")] == [
        ANTHROPIC, ANTHROPIC, OPENAI, GEMINI, OPENAI]
    assert [counts_tokens(p) for p in ("/v1/messages/count_tokens?beta=true", "/v1beta/models/m:countTokens", "/v1/responses")] == [
        True, True, False]
    assert token_of({}, "/v1beta/models/m:generateContent?alt=sse&key=ohb-1") == "ohb-1"
    assert token_of({"x-goog-api-key": "ohb-2"}, "/v1beta/models/m:generateContent?key=ohb-1") == "ohb-2"
    gemini_path = "/v1beta/models/m:streamGenerateContent?alt=sse&key=ohb-1"
    assert upstream_url("https://generativelanguage.googleapis.com", gemini_path, "REAL") == (
        "https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent?alt=sse&key=REAL")
    assert upstream_url("http://127.0.0.1:9/v1", "/v1/v1beta/models/m:generateContent", "REAL") == "http://127.0.0.1:9/v1beta/models/m:generateContent"
    assert upstream_url("http://127.0.0.1:9/v1", "/v1/models/m:generateContent", None) == "http://127.0.0.1:9/v1/models/m:generateContent"
    assert upstream_url("http://127.0.0.1:9/v1", "/v1beta/models/m:countTokens?key=ohb-1", None) == "http://127.0.0.1:9/v1beta/models/m:countTokens"
    assert upstream_url("http://127.0.0.1:9/v1", "/v1/messages?beta=true", "REAL") == "http://127.0.0.1:9/v1/messages?beta=true"


def test_gemini_usage_and_json_array_streams_are_normalised() -> None:
    metadata = {"promptTokenCount": 3000, "cachedContentTokenCount": 1000, "candidatesTokenCount": 40, "thoughtsTokenCount": 30,
                "toolUsePromptTokenCount": 5, "totalTokenCount": 3075}
    assert parse_usage(GEMINI, metadata) == Usage(3005, 70, 1000, 30)
    chunks = [{"usageMetadata": {"promptTokenCount": 3000, "totalTokenCount": 3000}}, {"usageMetadata": metadata}]
    assert body_usage(GEMINI, chunks) == Usage(3005, 70, 1000, 30)
    responses = {"output": [], "usage": {"input_tokens": 100, "output_tokens": 30, "input_tokens_details": {"cached_tokens": 60},
                                        "output_tokens_details": {"reasoning_tokens": 12}}}
    assert body_usage(OPENAI, responses) == Usage(100, 30, 60, 12) and body_usage(OPENAI, {"output": []}) is None
