"""The scripted LLM server in each agent protocol, called through the official SDKs over HTTP.

Anthropic messages (anthropic), OpenAI responses (openai), Gemini generateContent
(google-genai): whole and streamed answers, a tool call round trip, token counts, scripted
errors, and one script answering each agent with its own tools. Every client points at
127.0.0.1: nothing reaches a real API.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from pytest_ohbench.tools.testing.llm_server import EXHAUSTED, ScriptedLLMServer, credential_hash

BASH = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
EDIT = {"name": "Edit", "description": "Replace text", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}
PATCH = ("*** Begin Patch\n*** Update File: textkit/wrap.py\n@@\n-    return text[: width - len(ellipsis) + 1]\n"
         "+    return text[: width - len(ellipsis)]\n*** End Patch\n")
CODEX_TOOLS: list[Any] = [
    {"type": "function", "name": "shell_command", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}},
    {"type": "custom", "name": "apply_patch", "description": "FREEFORM patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
]
STRING = types.Schema(type=types.Type.STRING)
GEMINI_TOOLS = [types.Tool(function_declarations=[
    types.FunctionDeclaration(name="run_shell_command", parameters=types.Schema(type=types.Type.OBJECT, properties={"command": STRING})),
    types.FunctionDeclaration(name="replace", parameters=types.Schema(type=types.Type.OBJECT, properties={"file_path": STRING})),
])]
ISSUE = "truncate returns one character too many"


def usage(prompt: int, completion: int, cached: int = 0, cache_creation: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached,
            "cache_creation_tokens": cache_creation, "reasoning_tokens": reasoning}


# One task, one variant per agent, each calling that agent's own tools.
SCRIPT = {"scripts": [
    {"match": ISSUE, "tools": ["Bash", "Edit"], "responses": [
        {"content": "Let me look.", "tool_calls": [{"name": "Bash", "arguments": {"command": "cat textkit/wrap.py"}}],
         "usage": usage(1000, 50, cached=600, cache_creation=100)},
        {"content": "Fixed.", "tool_calls": [{"name": "Edit", "arguments": {
            "file_path": "/testbed/textkit/wrap.py", "old_string": "+ 1]", "new_string": "]"}}], "usage": usage(1400, 60, cached=1000)},
        {"content": "Done.", "usage": usage(1500, 5)},
    ]},
    {"match": ISSUE, "tools": ["shell_command", "apply_patch"], "responses": [
        {"content": "Patching.", "tool_calls": [{"name": "shell_command", "arguments": {"command": "cat textkit/wrap.py"}},
                                                {"name": "apply_patch", "arguments": PATCH}],
         "usage": usage(2000, 90, cached=1500, reasoning=40)},
        {"content": "Done.", "usage": usage(2500, 10, cached=2000)},
    ]},
    {"match": ISSUE, "tools": ["run_shell_command", "replace"], "responses": [
        {"content": "Running.", "tool_calls": [{"name": "run_shell_command", "arguments": {"command": "cat textkit/wrap.py"}}],
         "usage": usage(3000, 70, cached=1000, reasoning=30)},
        {"content": "Done.", "usage": usage(3300, 20)},
    ]},
    {"match": ISSUE, "tools": [], "responses": [{"content": "A title: fix truncate", "usage": usage(10, 5)}]},
    {"match": "flaky", "responses": [{"content": "made it", "errors": [429], "usage": usage(100, 5)}]},
]}


@pytest.fixture
def server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(SCRIPT) as running:
        yield running


def claude(server: ScriptedLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.root_url, api_key="sk-ant-test", max_retries=0)


def codex(server: ScriptedLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def gemini(server: ScriptedLLMServer, api_version: str = "v1beta") -> genai.Client:
    # Gemini CLI's SDK (@google/genai) asks v1beta; the Python SDK's default is v1.
    return genai.Client(api_key="gm-test", http_options=types.HttpOptions(base_url=server.root_url, api_version=api_version))


def test_anthropic_messages_with_tool_use_round_trips_streamed_and_whole(server: ScriptedLLMServer) -> None:
    client = claude(server)
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                                                         {"type": "text", "text": f"Issue: {ISSUE}"}]}]
    first = client.messages.create(model="claude-x", max_tokens=1000, tools=[BASH, EDIT], messages=messages)
    assert (first.stop_reason, [block.type for block in first.content]) == ("tool_use", ["text", "tool_use"])
    call = first.content[1]
    assert call.type == "tool_use" and (call.id, call.name, call.input) == ("toolu_0_0", "Bash", {"command": "cat textkit/wrap.py"})
    assert (first.usage.input_tokens, first.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens,
            first.usage.output_tokens) == (300, 600, 100, 50)
    # The tool's result goes back in a user message: the next turn.
    messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "def truncate(...)"}]}]
    with client.messages.stream(model="claude-x", max_tokens=1000, tools=[BASH, EDIT], messages=messages) as stream:
        kinds = [event.type for event in stream]
        second = stream.get_final_message()
    assert kinds[:2] == ["message_start", "content_block_start"] and kinds[-2:] == ["message_delta", "message_stop"]
    assert "input_json" in kinds and "text" in kinds  # the SDK's events for input_json_delta and text_delta
    edit = second.content[1]
    assert edit.type == "tool_use" and edit.name == "Edit" and edit.input["new_string"] == "]"
    assert second.content[0].type == "text" and second.content[0].text == "Fixed."
    assert (second.stop_reason, second.usage.input_tokens, second.usage.cache_read_input_tokens, second.usage.output_tokens) == (
        "tool_use", 400, 1000, 60)
    counted = client.messages.count_tokens(model="claude-x", tools=[BASH, EDIT], messages=messages)
    assert counted.input_tokens == 1400  # the prompt_tokens of the response this request would get
    assert [(r["protocol"], r["script"], r.get("turn")) for r in server.requests] == [
        ("anthropic", 0, 0), ("anthropic", 0, 1), ("anthropic", 0, 1)]
    # The SDK sends its key as x-api-key or (newer releases) a Bearer token: one credential throughout.
    [credential] = {r["auth_sha256"] for r in server.requests}
    assert server.requests[-1]["counted"] and credential in {credential_hash("sk-ant-test"), credential_hash("Bearer sk-ant-test")}


def test_responses_api_with_function_and_custom_tool_calls(server: ScriptedLLMServer) -> None:
    client = codex(server)
    opening: list[Any] = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox rules"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"Fix it: {ISSUE}"}]},
    ]
    first = client.responses.create(model="gpt-5", instructions="be brief", input=opening, tools=CODEX_TOOLS, store=False)
    assert [item.type for item in first.output] == ["message", "function_call", "custom_tool_call"]
    shell, patch = first.output[1], first.output[2]
    assert shell.type == "function_call" and (shell.call_id, shell.name, json.loads(shell.arguments)) == (
        "call_0_0", "shell_command", {"command": "cat textkit/wrap.py"})
    assert patch.type == "custom_tool_call" and (patch.call_id, patch.name, patch.input) == ("call_0_1", "apply_patch", PATCH)
    assert first.output_text == "Patching." and first.status == "completed"
    assert first.usage is not None and (first.usage.input_tokens, first.usage.input_tokens_details.cached_tokens,
                                        first.usage.output_tokens, first.usage.output_tokens_details.reasoning_tokens) == (2000, 1500, 90, 40)
    # Codex's history: each call followed by its output, the answer's message before them.
    history = [*opening, first.output[0].model_dump(exclude_none=True),
               shell.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": "call_0_0", "output": "def truncate"},
               patch.model_dump(exclude_none=True), {"type": "custom_tool_call_output", "call_id": "call_0_1", "output": "Done!"}]
    with client.responses.stream(model="gpt-5", input=history, tools=CODEX_TOOLS, store=False) as stream:
        kinds = [event.type for event in stream]
        second = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert {"response.output_item.added", "response.output_text.delta", "response.output_item.done"} <= set(kinds)
    assert second.output_text == "Done." and second.usage is not None and second.usage.input_tokens_details.cached_tokens == 2000
    assert [(r["script"], r["turn"]) for r in server.requests] == [(1, 0), (1, 1)]


def test_responses_streams_function_call_arguments_and_previous_response_id(server: ScriptedLLMServer) -> None:
    client = codex(server)
    events = list(client.responses.create(model="gpt-5", input=f"Fix it: {ISSUE}", tools=CODEX_TOOLS, stream=True))
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds and "response.custom_tool_call_input.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.type == "response.function_call_arguments.done" and json.loads(done.arguments) == {"command": "cat textkit/wrap.py"}
    completed = events[-1]
    assert completed.type == "response.completed" and completed.response.usage is not None
    assert completed.response.usage.output_tokens == 90 and [e.sequence_number for e in events] == list(range(len(events)))
    # Stored (store defaults to true): the next request sends only the tool outputs.
    follow = client.responses.create(model="gpt-5", previous_response_id=completed.response.id, tools=CODEX_TOOLS, input=[
        {"type": "function_call_output", "call_id": "call_0_0", "output": "x"},
        {"type": "custom_tool_call_output", "call_id": "call_0_1", "output": "Done!"}])
    assert follow.output_text == "Done." and follow.previous_response_id == completed.response.id
    with pytest.raises(openai.BadRequestError, match="Previous response with id 'resp_nope' not found"):
        client.responses.create(model="gpt-5", previous_response_id="resp_nope", input="go on")


def test_responses_turns_count_answers_not_items() -> None:
    script = {"scripts": [{"responses": [{"content": f"answer {n}"} for n in range(4)]}]}
    with ScriptedLLMServer(script) as server:
        def answer(*items: dict[str, Any]) -> str:
            return codex(server).responses.create(model="m", input=[{"role": "user", "content": "go"}, *items]).output_text

        def call(call_id: str) -> list[dict[str, Any]]:
            return [{"type": "function_call", "call_id": call_id, "name": "shell", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": call_id, "output": "ok"}]

        # One answer with two calls, each followed by its output (as Codex records them): one turn.
        assert answer({"type": "reasoning", "id": "rs_1", "summary": []}, *call("call_0_0"), *call("call_0_1")) == "answer 1"
        # Two answers of one call each: two turns.
        assert answer(*call("call_0_0"), *call("call_1_0")) == "answer 2"
        assert answer({"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}, *call("call_1_0")) == "answer 2"


def test_gemini_generate_content_with_function_calls_streamed_and_whole(server: ScriptedLLMServer) -> None:
    client = gemini(server)
    config = types.GenerateContentConfig(tools=GEMINI_TOOLS, system_instruction="You are Gemini CLI")
    contents: list[types.Content] = [
        types.Content(role="user", parts=[types.Part(text="<session_context>This is the Gemini CLI.</session_context>")]),
        types.Content(role="user", parts=[types.Part(text=ISSUE)]),
    ]
    first = client.models.generate_content(model="gemini-2.5-pro", contents=contents, config=config)
    assert first.text == "Running." and first.function_calls is not None
    assert [(c.name, c.args) for c in first.function_calls] == [("run_shell_command", {"command": "cat textkit/wrap.py"})]
    meta = first.usage_metadata
    assert meta is not None and (meta.prompt_token_count, meta.cached_content_token_count, meta.candidates_token_count,
                                 meta.thoughts_token_count, meta.total_token_count) == (3000, 1000, 40, 30, 3070)
    assert first.candidates and first.candidates[0].content is not None
    contents += [first.candidates[0].content, types.Content(role="user", parts=[
        types.Part.from_function_response(name="run_shell_command", response={"output": "def truncate"})])]
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro", contents=contents, config=config))
    assert "".join(chunk.text or "" for chunk in chunks) == "Done."
    last = chunks[-1].usage_metadata
    assert last is not None and (last.prompt_token_count, last.candidates_token_count) == (3300, 20)
    # The SDK counts contents alone: no tools, so no variant answers, and the count is an estimate.
    assert (client.models.count_tokens(model="gemini-2.5-pro", contents=contents).total_tokens or 0) > 0
    assert [(r["protocol"], r["script"], r.get("turn")) for r in server.requests][:2] == [("gemini", 2, 0), ("gemini", 2, 1)]
    assert server.requests[1]["path"].endswith(":streamGenerateContent?alt=sse")
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash("gm-test")}  # x-goog-api-key


def test_gemini_paths_keys_and_the_json_array_stream(server: ScriptedLLMServer) -> None:
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": ISSUE}]}],
                       "tools": [{"function_declarations": [{"name": "run_shell_command"}, {"name": "replace"}]}]}).encode()

    def post(path: str) -> Any:
        request = urllib.request.Request(server.root_url + path, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    whole = post("/v1beta/models/gemini-2.5-pro:generateContent?key=gm-query-key")
    array = post("/v1/models/gemini-2.5-pro:streamGenerateContent?key=gm-query-key")  # without alt=sse: a JSON array
    assert whole["candidates"][0]["content"]["parts"][1] == {"functionCall": {"name": "run_shell_command", "args": {"command": "cat textkit/wrap.py"}}}
    assert isinstance(array, list) and array[-1]["usageMetadata"] == whole["usageMetadata"]
    assert post("/v1beta/models/gemini-2.5-pro:countTokens") == {"totalTokens": 3000}
    assert {r["auth_sha256"] for r in server.requests[:2]} == {credential_hash("gm-query-key")}
    with urllib.request.urlopen(f"{server.root_url}/v1beta/models", timeout=10) as response:
        assert json.loads(response.read())["models"][0]["name"] == "models/scripted"


def test_one_script_answers_each_agent_with_its_own_tools(server: ScriptedLLMServer) -> None:
    bash_only = claude(server).messages.create(model="claude-x", max_tokens=10, tools=[BASH], messages=[{"role": "user", "content": ISSUE}])
    title = claude(server).messages.create(model="claude-haiku", max_tokens=10, messages=[{"role": "user", "content": ISSUE}])
    chat = codex(server).chat.completions.create(model="qwen", messages=[{"role": "user", "content": ISSUE}], tools=[
        {"type": "function", "function": {"name": "run_shell_command", "parameters": {}}},
        {"type": "function", "function": {"name": "replace", "parameters": {}}}])
    # Bash alone is not Claude Code's variant (it needs Edit too): no script offers a variant for it.
    assert bash_only.content[0].type == "text" and bash_only.content[0].text == EXHAUSTED
    assert title.content[0].type == "text" and title.content[0].text == "A title: fix truncate"  # tools: [] (a side call)
    message = chat.choices[0].message
    assert message.tool_calls and message.tool_calls[0].function.name == "run_shell_command"  # any protocol
    assert [r["script"] for r in server.requests] == [None, 3, 2]


@pytest.mark.parametrize("protocol", ["anthropic", "responses", "gemini"])
def test_a_scripted_429_reaches_each_sdk_as_its_own_error_then_the_answer(server: ScriptedLLMServer, protocol: str) -> None:
    google = gemini(server)  # held: a dropped genai.Client closes its connection pool

    def ask() -> str:
        if protocol == "anthropic":
            block = claude(server).messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "flaky"}]).content[0]
            return block.text if block.type == "text" else ""
        if protocol == "responses":
            return codex(server).responses.create(model="m", input="flaky").output_text
        return google.models.generate_content(model="m", contents="flaky").text or ""

    error: type[Exception] = {"anthropic": anthropic.RateLimitError, "responses": openai.RateLimitError,
                              "gemini": genai_errors.ClientError}[protocol]
    with pytest.raises(error) as failed:
        ask()
    assert ask() == "made it"
    if isinstance(failed.value, genai_errors.ClientError):
        assert (failed.value.code, failed.value.status, failed.value.message) == (429, "RESOURCE_EXHAUSTED", "scripted error 429")
    elif isinstance(failed.value, anthropic.RateLimitError):
        assert failed.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "scripted error 429"}}
    else:
        assert isinstance(failed.value, openai.RateLimitError) and failed.value.code is None and "scripted error 429" in failed.value.message
    assert [r["status"] for r in server.requests] == [429, 200]


def test_bad_tools_and_usage_keys_are_errors_at_load() -> None:
    with pytest.raises(ValueError, match=r"scripts\[0\].tools must be a list of tool names"):
        ScriptedLLMServer({"scripts": [{"tools": "Bash", "responses": []}]})
    with pytest.raises(ValueError, match=r"cached_tokens \+ cache_creation_tokens are part of prompt_tokens"):
        ScriptedLLMServer({"scripts": [{"responses": [{"usage": {"prompt_tokens": 10, "cached_tokens": 8, "cache_creation_tokens": 3}}]}]})
    with pytest.raises(ValueError, match=r"reasoning_tokens are part of completion_tokens"):
        ScriptedLLMServer({"scripts": [{"responses": [{"usage": {"completion_tokens": 1, "reasoning_tokens": 2}}]}]})
