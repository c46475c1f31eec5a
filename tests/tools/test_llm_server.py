"""The scripted LLM server, called through real clients (litellm, openai, urllib) over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import interruptible

from pytest_ohbench.tools.testing.llm_server import EXHAUSTED, ScriptedLLMServer, credential_hash

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SCRIPT = {
    "scripts": [
        {
            "match": "task A",
            "responses": [
                {"content": "a0", "tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 2, "cached_tokens": 4}},
                {"content": "a1", "usage": {"prompt_tokens": 20, "completion_tokens": 3}},
            ],
        },
        {"model": "claude-x", "responses": [{"content": "claude says hi"}]},
        {"model": "openai/gpt-5", "match": "task D", "responses": [{"content": "gpt-5 here", "finish_reason": "length"}]},
        {"responses": [{"content": "default", "latency": 0.2}]},
    ]
}
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}]


def post(server: ScriptedLLMServer, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.base_url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def conversation(task: str, turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": task}]
    for n in range(turns):
        messages += [{"role": "assistant", "content": f"x{n}"}, {"role": "user", "content": "ok"}]
    return messages


def test_litellm_gets_tool_calls_and_usage() -> None:
    import litellm

    with ScriptedLLMServer(SCRIPT) as server:
        response = litellm.completion(model="openai/gpt-4o", api_base=server.base_url, api_key="sk-test",
                                      messages=conversation("do task A", 0), tools=TOOLS)
    call = response.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("bash", {"command": "ls"})
    assert response.choices[0].finish_reason == "tool_calls"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (10, 2)
    assert response.usage.prompt_tokens_details.cached_tokens == 4


def test_openai_client_sees_the_real_shape() -> None:
    import openai

    with ScriptedLLMServer(SCRIPT) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        first = client.chat.completions.create(model="gpt-4o", messages=conversation("task A", 0), tools=TOOLS)
        second = client.chat.completions.create(model="gpt-4o", messages=conversation("task A", 1))
        stream = client.chat.completions.create(model="gpt-4o", messages=conversation("task A", 0), tools=TOOLS,
                                                stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        models = [m.id for m in client.models.list()]
    assert (first.object, first.model, first.id) == ("chat.completion", "gpt-4o", "chatcmpl-scripted-0-0")
    message = first.choices[0].message
    assert (message.role, message.content, first.choices[0].finish_reason) == ("assistant", "a0", "tool_calls")
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_0_0", "function", "bash", '{"command": "ls"}')]
    assert (first.usage.prompt_tokens, first.usage.completion_tokens, first.usage.total_tokens) == (10, 2, 12)
    assert first.usage.prompt_tokens_details.cached_tokens == 4
    assert (second.choices[0].message.content, second.choices[0].message.tool_calls) == ("a1", None)
    assert (second.choices[0].finish_reason, second.usage.total_tokens) == ("stop", 23)
    assert chunks[0].choices[0].delta.tool_calls[0].function.name == "bash"
    assert [c.choices[0].finish_reason for c in chunks if c.choices] == [None, "tool_calls"]
    assert chunks[-1].usage.total_tokens == 12
    assert models == ["claude-x", "openai/gpt-5"]


def test_model_and_match_select_the_script() -> None:
    with ScriptedLLMServer(SCRIPT) as server:
        def content(model: str, *users: Any, later: str | None = None) -> str:
            messages = [{"role": "user", "content": text} for text in users]
            if later is not None:  # a user message after the model's first answer
                messages += [{"role": "assistant", "content": "x0"}, {"role": "user", "content": later}]
            return post(server, {"model": model, "messages": messages})["choices"][0]["message"]["content"]

        # The script's model matches with or without the provider prefix, on either side.
        assert content("gpt-5", "task D") == "gpt-5 here"
        assert content("openai/gpt-5", "task D") == "gpt-5 here"
        assert content("gpt-4o", "task D") == "default"  # model differs: the next matching script
        assert content("anthropic/claude-x", "anything") == "claude says hi"
        # The opening is searched: every user message before the model's first answer (Codex
        # and Gemini CLI send their environment before the task); content parts count as text.
        assert content("gpt-4o", "task B") == "default"
        assert content("gpt-4o", [{"type": "text", "text": "please do task A"}]) == "a0"
        assert content("gpt-4o", "<environment_context>", "task A") == "a0"
        # A user message after an answer (a tool's output) never selects a script.
        assert content("gpt-4o", "task B", later="task A") == EXHAUSTED
    assert [r["script"] for r in server.requests] == [2, 2, 3, 1, 3, 0, 0, 3]


def test_no_matching_script_answers_exhausted() -> None:
    with ScriptedLLMServer({"scripts": [{"match": "only this", "responses": [{"content": "x"}]}]}) as server:
        answer = post(server, {"model": "m", "messages": conversation("something else", 0)})
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": EXHAUSTED}
    assert answer["usage"]["total_tokens"] == 0
    assert (server.requests[0]["script"], server.requests[0]["exhausted"]) == (None, True)


def test_latency_is_waited() -> None:
    with ScriptedLLMServer(SCRIPT) as server:
        started = time.monotonic()
        post(server, {"model": "m", "messages": conversation("task B", 0)})
    assert time.monotonic() - started >= 0.2


def test_turns_are_stateless_and_parallel_conversations_do_not_mix(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with ScriptedLLMServer(SCRIPT, log_path=log) as server:
        answers: dict[str, str] = {}

        def ask(key: str, task: str, turns: int, model: str = "gpt-4o") -> None:
            answers[key] = post(server, {"model": model, "messages": conversation(task, turns)})["choices"][0]["message"]["content"]

        threads = [
            threading.Thread(target=ask, args=("A1", "task A", 1)),
            threading.Thread(target=ask, args=("B0", "task B", 0)),
            threading.Thread(target=ask, args=("A0", "task A", 0)),
            threading.Thread(target=ask, args=("C0", "task C", 0, "openai/claude-x")),
            threading.Thread(target=ask, args=("A9", "task A", 9)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        again = post(server, {"model": "gpt-4o", "messages": conversation("task A", 1)})
    assert answers == {"A1": "a1", "B0": "default", "A0": "a0", "C0": "claude says hi", "A9": EXHAUSTED}
    assert again["choices"][0]["message"]["content"] == "a1"  # a retry gets the same answer
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(logged) == 6 == len(server.requests)
    assert sum(entry["exhausted"] for entry in logged) == 1
    exhausted = next(entry for entry in logged if entry["exhausted"])
    assert (exhausted["method"], exhausted["path"], exhausted["script"], exhausted["turn"]) == ("POST", "/v1/chat/completions", 0, 9)
    assert exhausted["body"]["messages"] == conversation("task A", 9)


def test_an_agents_own_exchanges_before_the_task_are_left_out() -> None:
    """aider's shape: few-shot examples and a file list, each answered by its own "Ok...", then the task."""
    preamble = [{"role": "system", "content": "s"}, {"role": "user", "content": "example: task A"},
                {"role": "assistant", "content": "example answer"}, {"role": "user", "content": "I switched to a new code base."},
                {"role": "assistant", "content": "Ok."}, {"role": "user", "content": "These are the files."},
                {"role": "assistant", "content": "Ok, any changes I propose will be to those files."}]
    with ScriptedLLMServer(SCRIPT) as server:
        first = post(server, {"model": "m", "messages": [*preamble, {"role": "user", "content": "task B"}]})
        second = post(server, {"model": "m", "messages": [*preamble, {"role": "user", "content": "do task A"},
                                                          {"role": "assistant", "content": "a0"}, {"role": "user", "content": "more"}]})
        # An answer with a tool call is the model's, whatever its text.
        called = post(server, {"model": "m", "messages": [{"role": "user", "content": "task A"}, {
            "role": "assistant", "content": "Ok, running it.", "tool_calls": [{"id": "c", "type": "function",
                                                                                 "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "out"}]})
    assert first["choices"][0]["message"]["content"] == "default"  # the example's "task A" is not the opening
    assert second["choices"][0]["message"]["content"] == "a1"  # one answer of the model's so far
    assert called["choices"][0]["message"]["content"] == "a1"
    assert [r["turn"] for r in server.requests] == [0, 1, 1]


def test_streaming_ends_with_usage_and_done() -> None:
    def stream(**extra: object) -> list[dict]:
        body = json.dumps({"model": "m", "stream": True, "messages": conversation("task A", 0), **extra}).encode()
        request = urllib.request.Request(f"{server.base_url}/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            events = [line[6:] for line in response.read().decode().splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        return [json.loads(e) for e in events[:-1]]

    with ScriptedLLMServer(SCRIPT) as server:
        chunks = stream(stream_options={"include_usage": True})
        plain = stream()
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0] == {
        "index": 0, "id": "call_0_0", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 10
    # Like OpenAI: the usage chunk only when asked for.
    assert plain == chunks[:-1]


def test_scripted_errors_then_the_answer_and_anthropic_messages() -> None:
    script = {"scripts": [{"responses": [
        {"content": "hi", "errors": [429, 503], "usage": {"prompt_tokens": 100, "completion_tokens": 7, "cached_tokens": 60}},
    ]}]}
    body = json.dumps({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "go"}]}).encode()
    with ScriptedLLMServer(script) as server:
        statuses = []
        for _ in range(3):
            request = urllib.request.Request(f"{server.base_url}/messages", body, {"x-api-key": "k-1234"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
                    message = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                assert exc.headers["Retry-After"] == "0" and "scripted error" in json.loads(exc.read())["error"]["message"]
    assert statuses == [429, 503, 200]
    assert message["content"] == [{"type": "text", "text": "hi"}] and message["stop_reason"] == "end_turn"
    assert message["usage"] == {"input_tokens": 40, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0, "output_tokens": 7}
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash("k-1234")}


def test_models_and_errors() -> None:
    with ScriptedLLMServer(SCRIPT) as server:
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response:
            assert [m["id"] for m in json.loads(response.read())["data"]] == ["claude-x", "openai/gpt-5"]
        # Without the /v1 prefix too.
        no_prefix = f"http://127.0.0.1:{server.port}/chat/completions"
        request = urllib.request.Request(no_prefix, json.dumps({"model": "m", "messages": conversation("task A", 1)}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["choices"][0]["message"]["content"] == "a1"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{server.base_url}/embeddings", timeout=10)
        assert missing.value.code == 404 and "error" in json.loads(missing.value.read())
        for body in (b"{nope", b"[1, 2]"):
            bad = urllib.request.Request(f"{server.base_url}/chat/completions", body, {"Content-Type": "application/json"})
            with pytest.raises(urllib.error.HTTPError) as invalid:
                urllib.request.urlopen(bad, timeout=10)
            assert invalid.value.code == 400 and json.loads(invalid.value.read())["error"]["type"] == "invalid_request_error"
    assert [r["status"] for r in server.requests] == [200, 200, 404, 400, 400]


def test_default_model_is_listed_when_no_script_names_one() -> None:
    with ScriptedLLMServer({"scripts": [{"responses": []}]}) as server, urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response:
        assert [m["id"] for m in json.loads(response.read())["data"]] == ["scripted"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "10.0.0.1", "::", "example.com"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="only listens on loopback"):
        ScriptedLLMServer(SCRIPT, host=host)


def test_loopback_names_are_accepted() -> None:
    with ScriptedLLMServer(SCRIPT, host="localhost") as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert post(server, {"model": "m", "messages": conversation("task A", 1)})["choices"][0]["message"]["content"] == "a1"
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", r"s.yaml: expected a mapping with a 'scripts' list"),
        ("scripts: [\n", r"s.yaml: cannot read the script: "),
        ("scripts:\n  - {}\n", r"s.yaml: scripts\[0\] needs a 'responses' list"),
        ("scripts:\n  - responses: []\n  - match: '('\n    responses: []\n", r"s.yaml: scripts\[1\].match is not a valid regex"),
        ("scripts:\n  - responses: [hello]\n", r"scripts\[0\].responses\[0\] must be a mapping"),
        ("scripts:\n  - responses: [{contents: hi}]\n", r"scripts\[0\].responses\[0\] has unknown keys \['contents'\]"),
        ("scripts:\n  - responses: [{tool_calls: [{arguments: {}}]}]\n", r"responses\[0\].tool_calls\[0\] needs a 'name' string"),
        ("scripts:\n  - responses: [{usage: {prompt_tokens: many}}]\n", r"responses\[0\].usage counts must be non-negative integers"),
        ("scripts:\n  - responses: [{latency: -1}]\n", r"responses\[0\].latency must be a non-negative number"),
        ("scripts:\n  - responses: []\n    modle: x\n", r"scripts\[0\] has unknown keys \['modle'\]"),
    ],
)
def test_bad_scripts_name_the_file_and_the_script(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        ScriptedLLMServer(path)
    assert str(path) in str(info.value)


def test_a_yaml_script_file_is_served(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        'scripts:\n'
        '  - match: "ohbench__textkit-1"\n'
        '    model: gpt-4o\n'
        '    responses:\n'
        '      - content: "I\'ll look at the repo."\n'
        '        tool_calls:\n'
        '          - name: execute_bash\n'
        '            arguments: {command: "ls"}\n'
        '          - name: think\n'
        '            arguments: \'{"thought": "raw json string"}\'\n'
        '        usage: {prompt_tokens: 120, completion_tokens: 30, cached_tokens: 0}\n'
        '        latency: 0.05\n'
        '      - content: "done"\n'
        '        finish_reason: stop\n'
    )
    with ScriptedLLMServer(path) as server:
        answer = post(server, {"model": "openai/gpt-4o", "messages": conversation("fix ohbench__textkit-1 please", 0)})
    calls = answer["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_0_0", '{"command": "ls"}'), ("call_0_1", '{"thought": "raw json string"}')]
    assert answer["model"] == "openai/gpt-4o"  # echoed as asked
    assert answer["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                               "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def test_cli_prints_the_base_url_and_serves_until_interrupted(tmp_path: Path) -> None:
    script, log = tmp_path / "s.yaml", tmp_path / "log.jsonl"
    script.write_text("scripts:\n  - responses: [{content: hello}]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_ohbench.tools.testing.llm_server", str(script), "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        request = urllib.request.Request(f"{base_url}/chat/completions", json.dumps({"model": "m", "messages": conversation("x", 0)}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["choices"][0]["message"]["content"] == "hello"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads(log.read_text())["turn"] == 0


def test_cli_reports_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text("scripts: 3\n")
    result = subprocess.run([sys.executable, "-m", "pytest_ohbench.tools.testing.llm_server", str(script), "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and f"error: {script}: expected a mapping" in result.stderr
