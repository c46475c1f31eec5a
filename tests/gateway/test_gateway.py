"""The LLM gateway over real HTTP: clients -> gateway -> the scripted LLM server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.gateway.cassette import CASSETTE_DIR, cassette_name
from pytest_ohbench.gateway.client import GatewayAccess, GatewayClient, GatewayError, agent_view
from pytest_ohbench.gateway.meter import BUDGET_EXCEEDED
from pytest_ohbench.gateway.server import Gateway
from pytest_ohbench.gateway.upstream import retry_wait, upstream_url
from pytest_ohbench.gateway.usage import ANTHROPIC, OPENAI, StreamUsage, Usage, parse_usage
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

SECRET = "sk-real-key-NEVER-IN-AGENTS-91c2"
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_cost_per_token": 1e-7}


def turn(text: str, prompt: int, completion: int, cached: int = 0, reasoning: int = 0, **extra: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached, "reasoning_tokens": reasoning}
    return {"content": text, "usage": usage, **extra}


def section(server: ScriptedLLMServer, name: str = "gpt", model: str = "openai/gpt-4o") -> LLMConfig:
    return LLMConfig(name=name, model=model, api_key=SECRET, base_url=server.base_url, **PRICES)


def ask(history: list[str]) -> list[dict[str, str]]:
    """A conversation with `len(history)` assistant turns done (the scripted server's turn index)."""
    messages = [{"role": "user", "content": "fix the bug"}]
    for text in history:
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": "go on"}]
    return messages


def cost(prompt: int, completion: int, cached: int = 0) -> float:
    return (prompt - cached) * 1e-6 + cached * 1e-7 + completion * 2e-6


@pytest.fixture
def server() -> Iterator[ScriptedLLMServer]:
    script = {"scripts": [{"responses": [
        turn("one", 1000, 50, cached=400, reasoning=20),
        turn("two", 1200, 80, cached=1000),
        turn("three", 1500, 10),
        turn("four", 1600, 10),
    ]}]}
    with ScriptedLLMServer(script) as running:
        yield running


def test_chat_completions_reach_the_upstream_with_the_real_key_and_are_metered(server: ScriptedLLMServer) -> None:
    with Gateway({"gpt": section(server)}) as gateway:
        lease = gateway.open_lease("suite.jsonl::t-1", "s/t-1/gpt-a1.jsonl", "gpt", budget=0)
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=lease.token, max_retries=0)
        first = client.chat.completions.create(model="gpt-4o", messages=ask([]))
        # Streamed without asking for usage: the gateway asks for it, meters it, and hides it.
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=ask(["one"]), stream=True))
        asked = list(client.chat.completions.create(
            model="gpt-4o", messages=ask(["one", "two"]), stream=True, stream_options={"include_usage": True}))
        meter = gateway.close_lease(lease.token)
    assert first.choices[0].message.content == "one" and first.usage and first.usage.prompt_tokens == 1000
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "two"
    assert all(c.usage is None for c in chunks)
    assert asked[-1].usage is not None and asked[-1].usage.prompt_tokens == 1500
    assert meter is not None
    assert (meter.calls, meter.input_tokens, meter.output_tokens) == (3, 3700, 140)
    assert (meter.cached_tokens, meter.reasoning_tokens, meter.upstream_requests) == (1400, 20, 3)
    assert meter.cost_usd == pytest.approx(cost(1000, 50, 400) + cost(1200, 80, 1000) + cost(1500, 10), rel=1e-12)
    assert meter.latency_s > 0 and meter.models == {"gpt-4o": 3}
    # The upstream saw the real key; the agent only ever held its token.
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash(f"Bearer {SECRET}")}
    assert SECRET not in lease.token and lease.token.startswith("ohb-")


def test_a_closed_or_unknown_token_is_refused_and_nothing_goes_upstream(server: ScriptedLLMServer) -> None:
    with Gateway({"gpt": section(server)}) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/gpt-a1.jsonl", "gpt", budget=0)
        gateway.close_lease(lease.token)
        for token in (lease.token, "sk-guessed", SECRET):
            client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0)
            with pytest.raises(openai.AuthenticationError, match=r"ohbench gateway: (unknown or missing token|task t-1 is over)"):
                client.chat.completions.create(model="gpt-4o", messages=ask([]))
    assert server.requests == []


def test_the_item_budget_refuses_the_next_request_with_a_clear_error(server: ScriptedLLMServer) -> None:
    with Gateway({"gpt": section(server)}) as gateway:
        budget = cost(1000, 50, 400) + 0.0001  # the first call fits, the second starts under it, the third not
        lease = gateway.open_lease("suite.jsonl::t-1", "s/t-1/gpt-a1.jsonl", "gpt", budget=budget)
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=lease.token, max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=ask([]))
        client.chat.completions.create(model="gpt-4o", messages=ask(["one"]))
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="gpt-4o", messages=ask(["one", "two"]))
        meter = gateway.close_lease(lease.token)
    assert refused.value.status_code == 402
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "budget_exceeded"
    assert refused.value.body["message"].startswith(f"{BUDGET_EXCEEDED}: task suite.jsonl::t-1 has spent $0.0012 of its $0.00084")
    assert meter is not None and (meter.calls, meter.refused, meter.upstream_requests) == (2, 1, 2)
    assert meter.cost_usd == pytest.approx(cost(1000, 50, 400) + cost(1200, 80, 1000), rel=1e-12)
    assert meter.refusal and "--ohbench-max-cost-per-task" in meter.refusal
    assert len(server.requests) == 2


def test_the_run_budget_holds_with_items_in_parallel() -> None:
    # Every call costs $0.01; six items keep calling until refused; the run may spend $0.035.
    script = {"scripts": [{"responses": [turn(f"step {i}", 10_000, 0, latency=0.02) for i in range(20)]}]}
    with ScriptedLLMServer(script) as server, Gateway({"gpt": section(server)}, run_budget=0.035) as gateway:
        leases = [gateway.open_lease(f"t-{i}", f"s/t-{i}/gpt-a1.jsonl", "gpt", budget=0) for i in range(6)]

        def agent(token: str) -> None:
            client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0)
            history: list[str] = []
            while True:
                try:
                    answer = client.chat.completions.create(model="gpt-4o", messages=ask(history))
                except openai.APIStatusError as exc:
                    assert exc.status_code == 402 and "--ohbench-max-cost)" in exc.message
                    return
                history.append(str(answer.choices[0].message.content))

        threads = [threading.Thread(target=agent, args=(lease.token,)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        meters = [gateway.close_lease(lease.token) for lease in leases]
    spent = sum(m.cost_usd for m in meters if m)
    assert 0.035 <= spent <= 0.035 + 0.01 + 1e-9  # over by at most one request
    assert spent == pytest.approx(gateway.ledger.spent, rel=1e-12)
    assert all(m and m.refused == 1 for m in meters)
    assert len(server.requests) == sum(m.calls for m in meters if m) == 4


def test_a_refused_connection_fails_the_request_at_once(server: ScriptedLLMServer) -> None:
    llm = section(server)
    server.stop()  # nothing listens there any more
    with Gateway({"gpt": llm}, retries=3, retry_wait=5.0) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/gpt-a1.jsonl", "gpt", budget=0)
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=lease.token, max_retries=0)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(model="gpt-4o", messages=ask([]))
        elapsed = time.monotonic() - started
        meter = gateway.close_lease(lease.token)
    assert elapsed < 2.0  # no retries with their 5 s waits
    assert failed.value.status_code == 502 and "the LLM upstream is unreachable: cannot connect to" in str(failed.value.message)
    assert meter is not None and (meter.retries, meter.upstream_errors, meter.cost_usd) == (0, {"502": 1}, 0.0)


def test_429_and_5xx_are_retried_and_counted_then_the_upstream_error_reaches_the_agent() -> None:
    script = {"scripts": [
        {"match": "flaky", "responses": [turn("made it", 100, 5, errors=[429, 503])]},
        {"match": "broken", "responses": [turn("never", 100, 5, errors=[500, 502, 500])]},
    ]}
    with ScriptedLLMServer(script) as server, Gateway({"gpt": section(server)}, retries=2, retry_wait=0.01) as gateway:
        flaky = gateway.open_lease("t-1", "s/t-1/gpt-a1.jsonl", "gpt", budget=0)
        broken = gateway.open_lease("t-2", "s/t-2/gpt-a1.jsonl", "gpt", budget=0)
        answer = openai.OpenAI(base_url=gateway.url + "/v1", api_key=flaky.token, max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "flaky"}])
        with pytest.raises(openai.InternalServerError) as failed:
            openai.OpenAI(base_url=gateway.url + "/v1", api_key=broken.token, max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "broken"}])
        flaky_meter, broken_meter = gateway.close_lease(flaky.token), gateway.close_lease(broken.token)
    assert answer.choices[0].message.content == "made it"
    assert flaky_meter is not None and (flaky_meter.retries, flaky_meter.upstream_requests, flaky_meter.calls) == (2, 3, 1)
    assert flaky_meter.cost_usd == pytest.approx(cost(100, 5), rel=1e-12) and flaky_meter.upstream_errors == {}
    # Retries exhausted: the agent gets the upstream's own status and body.
    assert failed.value.status_code == 500 and failed.value.body == {
        "message": "scripted error 500", "type": "scripted_error", "param": None, "code": None}
    assert broken_meter is not None and (broken_meter.retries, broken_meter.upstream_errors) == (2, {"500": 1})
    assert broken_meter.cost_usd == 0.0 and [r["status"] for r in server.requests].count(200) == 1


def test_anthropic_messages_are_forwarded_with_x_api_key_and_metered(server: ScriptedLLMServer) -> None:
    llm = section(server, name="claude", model="anthropic/claude-x")
    with Gateway({"claude": llm}) as gateway:
        lease = gateway.open_lease("t-1", "s/t-1/claude-a1.jsonl", "claude", budget=0)
        headers = {"x-api-key": lease.token, "anthropic-version": "2023-06-01"}
        body = {"model": "claude-x", "max_tokens": 100, "messages": ask([])}
        with httpx.Client(base_url=gateway.url) as client:
            whole = client.post("/v1/messages", json=body, headers=headers).json()
            with client.stream("POST", "/v1/messages", json={**body, "messages": ask(["one"]), "stream": True}, headers=headers) as streamed:
                events = [json.loads(line[5:]) for line in streamed.iter_lines() if line.startswith("data:")]
        meter = gateway.close_lease(lease.token)
    assert whole["content"] == [{"type": "text", "text": "one"}] and whole["usage"]["input_tokens"] == 600
    assert next(e["type"] for e in events) == "message_start" and events[-1]["type"] == "message_stop"
    assert meter is not None and (meter.calls, meter.input_tokens, meter.cached_tokens, meter.output_tokens) == (2, 2200, 1400, 130)
    assert meter.cost_usd == pytest.approx(cost(1000, 50, 400) + cost(1200, 80, 1000), rel=1e-12)
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash(SECRET)}


def test_record_then_replay_without_the_upstream(server: ScriptedLLMServer, tmp_path: Path) -> None:
    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    name = cassette_name("examples", "t-1", "gpt", 1)
    llm = section(server)

    def conversation(gateway: Gateway) -> tuple[list[str], Any]:
        lease = gateway.open_lease("suite.jsonl::t-1", name, "gpt", budget=0)
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=lease.token, max_retries=0)
        texts = [str(client.chat.completions.create(model="gpt-4o", messages=ask([])).choices[0].message.content)]
        stream = client.chat.completions.create(model="gpt-4o", messages=[*ask(["one"]), {"role": "user", "content": f"at {time.time()}"}], stream=True)
        texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        return texts, gateway.close_lease(lease.token)

    with Gateway({"gpt": llm}, record_dir=recorded) as gateway:
        live_texts, live = conversation(gateway)
    cassette = recorded / CASSETTE_DIR / name
    text = cassette.read_text()
    assert len(text.splitlines()) == 2 and SECRET not in text and "ohb-" not in text
    server.stop()
    upstream_calls = len(server.requests)
    with Gateway({"gpt": llm}, replay_dir=recorded, record_dir=replayed) as gateway:
        replay_texts, again = conversation(gateway)
        # A third request is not in the cassette: an error naming the item and the step.
        lease = gateway.open_lease("suite.jsonl::t-1", name, "gpt", budget=0)
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=lease.token, max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=ask([]))
        with pytest.raises(openai.ConflictError, match=r"ohbench replay: suite.jsonl::t-1 step 2: the request is not the recorded one: stream"):
            client.chat.completions.create(model="gpt-4o", messages=ask(["one"]))
        again_step_2 = [*ask(["one"]), {"role": "user", "content": "later"}]
        list(client.chat.completions.create(model="gpt-4o", messages=again_step_2, stream=True))  # step 2, as recorded
        with pytest.raises(openai.ConflictError, match=r"ohbench replay: suite.jsonl::t-1 step 3: not in the cassette, which holds 2"):
            client.chat.completions.create(model="gpt-4o", messages=ask(["one", "two"]))
        missed = gateway.close_lease(lease.token)
    assert replay_texts == live_texts == ["one", "two"]
    assert live is not None and again is not None and again.replayed and again.replay_changed == 1
    for key in ("calls", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_usd"):
        assert getattr(again, key) == getattr(live, key)
    assert (live.upstream_requests, again.upstream_requests, len(server.requests)) == (2, 0, upstream_calls)
    assert missed is not None and missed.replay_error and "step 2" in missed.replay_error
    assert (replayed / CASSETTE_DIR / name).read_text().count("\n") == 2  # the replay recorded its last try


def test_the_admin_api_needs_the_run_secret(server: ScriptedLLMServer) -> None:
    with Gateway({"gpt": section(server)}) as gateway:
        good = GatewayClient(GatewayAccess(gateway.url, gateway.admin_secret))
        token = good.open_lease("t-1", "s/t-1/gpt-a1.jsonl", "gpt", 0.5)
        assert good.run_spent() == 0.0 and good.close_lease(token).calls == 0
        with pytest.raises(GatewayError, match="HTTP 403"):
            GatewayClient(GatewayAccess(gateway.url, "guess")).open_lease("t-1", "x", "gpt", 0)
        with pytest.raises(GatewayError, match="no LLM section 'o3'"):
            good.open_lease("t-1", "x", "o3", 0)


def test_the_agent_view_holds_no_secret(server: ScriptedLLMServer) -> None:
    llm = section(server)
    llm.extra = {"aws_secret_access_key": "aws-SECRET-1234", "custom_header_name": "x"}
    view = agent_view(llm, "http://127.0.0.1:1/v1", "ohb-token")
    assert (view.api_key, view.base_url, view.model) == ("ohb-token", "http://127.0.0.1:1/v1", llm.model)
    assert view.extra == {"custom_header_name": "x"} and SECRET not in repr(view.to_env())


def test_usage_shapes_are_normalised() -> None:
    chat = {"prompt_tokens": 100, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 12}}
    responses = {"input_tokens": 100, "output_tokens": 30, "input_tokens_details": {"cached_tokens": 60},
                 "output_tokens_details": {"reasoning_tokens": 12}}
    anthropic = {"input_tokens": 30, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 10, "output_tokens": 30}
    assert parse_usage(OPENAI, chat) == parse_usage(OPENAI, responses) == Usage(100, 30, 60, 12)
    assert parse_usage(ANTHROPIC, anthropic) == Usage(100, 30, 60, 0)
    assert parse_usage(OPENAI, {"prompt_tokens": 5, "completion_tokens": None}) == Usage(5, 0, 0, 0)
    stream = StreamUsage()
    stream.feed({"type": "message_start", "message": {"usage": {"input_tokens": 30, "cache_read_input_tokens": 60, "output_tokens": 1}}})
    stream.feed({"type": "content_block_delta"})
    stream.feed({"type": "message_delta", "usage": {"output_tokens": 30}})
    assert stream.usage(ANTHROPIC) == Usage(90, 30, 60, 0)
    assert StreamUsage().usage(OPENAI) is None


def test_cache_reads_have_their_own_price() -> None:
    priced = LLMConfig(name="m", model="m", **PRICES)
    assert priced.cost(1000, 100, 400) == pytest.approx(600e-6 + 400e-7 + 200e-6, rel=1e-12)
    unpriced = LLMConfig(name="m", model="m", input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    assert unpriced.cost(1000, 100, 400) == pytest.approx(1000e-6 + 200e-6, rel=1e-12)


def test_upstream_urls_and_retry_waits() -> None:
    assert upstream_url("http://127.0.0.1:9/v1", "/v1/chat/completions?x=1") == "http://127.0.0.1:9/v1/chat/completions?x=1"
    assert upstream_url("https://api.anthropic.com", "/v1/v1/messages") == "https://api.anthropic.com/v1/messages"
    assert upstream_url("https://openrouter.ai/api/v1", "/chat/completions") == "https://openrouter.ai/api/v1/chat/completions"
    assert [retry_wait(n, None, 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert (retry_wait(0, "3", 1.0), retry_wait(0, "999", 1.0), retry_wait(2, "soon", 1.0)) == (3.0, 60.0, 4.0)


def test_a_section_the_gateway_cannot_forward_is_an_error_naming_it() -> None:
    llm = LLMConfig(name="vertex", model="vertex_ai/gemini-pro")
    with pytest.raises(ValueError, match=r"\[llm.vertex\] model 'vertex_ai/gemini-pro': .* set base_url"):
        Gateway({"vertex": llm})
