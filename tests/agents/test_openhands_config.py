"""The config.toml the openhands agent writes: valid TOML whatever the [llm] section holds; a tree it cannot make (no Docker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.agents.openhands.agent import OpenHandsAgent, openhands_config
from pytest_ohbench.agents.openhands.sdk import OpenHandsSDKAgent
from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.runtime.docker.provider import DockerProvider
from pytest_ohbench.runtime.provider import RuntimeSettings

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


@pytest.mark.parametrize(
    ("agent_class", "settings", "message"),
    [
        (OpenHandsAgent, "openhands_wheelhouse", "no openhands_ai wheel in it"),  # a wheelhouse without OpenHands
        (OpenHandsSDKAgent, "openhands_source", "not an OpenHands tree"),  # a folder that is no checkout
    ],
)
def test_an_agent_tree_that_cannot_be_made_is_a_build_error(agent_class: type, settings: str, message: str, tmp_path: Path) -> None:
    # Never called: the tree fails before any container is made, so no engine is needed.
    runtime = DockerProvider(RuntimeSettings(run_id="r", controller="h:1", engine="unix:///nonexistent/docker.sock"))
    agent = agent_class(AgentSettings(**{settings: tmp_path}))
    with pytest.raises(AssertionError, match="prepare comes first"):
        agent.mounts()
    with pytest.raises(HarnessError, match=message) as failed:
        agent.prepare(runtime, "ohbench/base:trixie")
    assert failed.value.outcome is Outcome.BUILD_ERROR
