"""The config.toml the openhands agent writes: valid TOML whatever the [llm] section holds (no Docker)."""

from __future__ import annotations

import sys

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.agents.openhands import openhands_config
from pytest_ohbench.llm import LLMConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_a_section_with_table_and_array_values_round_trips_through_tomllib() -> None:
    headers = {"X-Team": "bench", "X-Quote": 'say "hi"\\now'}
    llm = LLMConfig(
        name="gpt", model="openai/gpt-4o", api_key="sk-test-key", base_url="http://127.0.0.1:8000/v1",
        temperature=0.0, input_cost_per_token=2.5e-06, drop_params=True,
        extra={"extra_headers": headers, "stop": ["</s>", "END"], "caching_prompt": False},
    )
    data = tomllib.loads(openhands_config(llm, "/testbed", AgentSettings(max_steps=30, max_cost_per_task=0.5)))
    assert data["llm"]["extra_headers"] == headers
    assert data["llm"]["stop"] == ["</s>", "END"] and data["llm"]["caching_prompt"] is False
    assert (data["llm"]["model"], data["llm"]["api_key"], data["llm"]["temperature"]) == ("openai/gpt-4o", "sk-test-key", 0.0)
    assert data["llm"]["input_cost_per_token"] == 2.5e-06 and data["llm"]["drop_params"] is True
    assert (data["core"]["workspace_base"], data["core"]["max_iterations"], data["core"]["max_budget_per_task"]) == ("/testbed", 30, 0.5)
    assert data["core"]["runtime"] == "cli" and data["agent"]["enable_browsing"] is False


def test_no_budget_writes_no_budget_key() -> None:
    data = tomllib.loads(openhands_config(LLMConfig(name="m", model="openai/m"), "/w", AgentSettings(max_steps=5, max_cost_per_task=0.0)))
    assert "max_budget_per_task" not in data["core"] and "api_key" not in data["llm"]
