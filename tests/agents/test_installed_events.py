"""How Codex's and opencode's event streams end a run, and the config each is given (events as the CLIs print them)."""

from __future__ import annotations

import sys
from typing import Any

from pytest_ohbench.agents.base import AgentSettings, AgentStatus
from pytest_ohbench.agents.installed.codex import CodexAgent, codex_config
from pytest_ohbench.agents.installed.opencode import OpencodeAgent, opencode_config
from pytest_ohbench.core.llm import LLMConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LLM = LLMConfig(name="gpt", model="openai/gpt-5.5", api_key="sk-item-token", base_url="http://127.0.0.1:4000/v1")
USAGE = {"input_tokens": 600, "cached_input_tokens": 50, "output_tokens": 35}


def test_codex_ends_on_its_turn_and_keeps_going_past_a_recovered_error() -> None:
    codex = CodexAgent(AgentSettings())
    retried = [{"type": "thread.started", "thread_id": "t1"}, {"type": "error", "message": "Reconnecting... 1/5"},
               {"type": "turn.completed", "usage": USAGE}]
    done = codex.summarize(retried, LLM)
    assert (done.status, done.input_tokens, done.cached_tokens, done.output_tokens, done.session_id) == (
        AgentStatus.FINISHED, 600, 50, 35, "t1")
    failed = codex.summarize([{"type": "turn.failed", "error": {"message": "stream disconnected\nmore"}}], LLM)
    assert (failed.status, failed.error) == (AgentStatus.ERROR, "Codex: stream disconnected")
    assert codex.summarize([{"type": "turn.started"}], LLM).status is AgentStatus.STOPPED


def test_codex_config_points_at_the_gateway_without_the_token() -> None:
    config = tomllib.loads(codex_config(LLM))
    assert config["model"] == "gpt-5.5" and config["model_provider"] == "ohbench" and config["web_search"] == "disabled"
    assert config["model_providers"]["ohbench"] == {"name": "ohbench gateway", "base_url": "http://127.0.0.1:4000/v1",
                                                    "wire_api": "responses", "env_key": "OHBENCH_LLM_API_KEY"}
    assert "sk-item-token" not in codex_config(LLM)  # the key comes from the environment


def finish(reason: str, input_tokens: int = 100) -> dict[str, Any]:
    return {"type": "step_finish", "sessionID": "ses_1",
            "part": {"reason": reason, "tokens": {"input": input_tokens, "output": 10, "reasoning": 5, "cache": {"read": 20, "write": 0}}}}


def test_opencode_status_from_its_steps() -> None:
    opencode = OpencodeAgent(AgentSettings(max_steps=3))
    done = opencode.summarize([finish("tool-calls"), finish("stop")], LLM)
    assert (done.status, done.input_tokens, done.cached_tokens, done.output_tokens, done.llm_calls) == (
        AgentStatus.FINISHED, 240, 40, 30, 2)
    assert opencode.summarize([finish("tool-calls"), finish("tool-calls"), finish("stop")], LLM).status is AgentStatus.MAX_STEPS
    assert opencode.summarize([finish("tool-calls")], LLM).status is AgentStatus.STOPPED
    error = {"type": "error", "error": {"name": "APIError", "data": {"message": "Cannot connect to API"}}}
    failed = opencode.summarize([finish("tool-calls"), error], LLM)
    assert (failed.status, failed.error) == (AgentStatus.ERROR, "opencode: Cannot connect to API")


def test_opencode_config_has_one_provider_the_gateway() -> None:
    config = opencode_config(LLM, 7)
    assert config["model"] == config["small_model"] == "ohbench/gpt-5.5"
    assert config["provider"]["ohbench"]["options"] == {"baseURL": "http://127.0.0.1:4000/v1", "apiKey": "{env:OHBENCH_LLM_API_KEY}"}
    assert config["agent"]["build"]["steps"] == 7 and config["permission"]["webfetch"] == "deny"
