"""OpenHands settings users fight with: limits from [core], agent class, condenser, output-token limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinysuite import make_suite

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.agents.openhands.agent import openhands_config
from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.plugin.settings import core_section

if __import__("sys").version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def write_config(pytester: pytest.Pytester, extra: str = "", gpt: str = "") -> None:
    (pytester.path / "config.toml").write_text(
        f'{extra}[llm]\napi_key = "sk-x"\n\n[llm.gpt]\nmodel = "openai/gpt-4o"\n{gpt}'
    )


def test_openhands_config_carries_limits_browsing_and_condenser() -> None:
    settings = AgentSettings(max_steps=7, max_cost_per_task=0.5, openhands_enable_browsing=True,
                             openhands_condenser="recent", openhands_condenser_max_events=12)
    config = tomllib.loads(openhands_config(LLMConfig(name="gpt", model="openai/gpt-4o"), "/testbed", settings))
    assert (config["core"]["max_iterations"], config["core"]["max_budget_per_task"]) == (7, 0.5)
    assert config["agent"]["enable_browsing"] is True
    assert config["condenser"] == {"type": "recent", "max_events": 12, "keep_first": 1}
    noop = tomllib.loads(openhands_config(LLMConfig(name="gpt", model="m"), "/w", AgentSettings(max_cost_per_task=0)))
    assert noop["condenser"] == {"type": "noop"} and "max_budget_per_task" not in noop["core"]
    assert noop["agent"]["enable_browsing"] is False


def test_core_limits_come_from_config_toml_and_bad_ones_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[core]\nmax_iterations = 30\nmax_budget_per_task = 1.5\n")
    assert core_section(path) == {"max_iterations": 30, "max_budget_per_task": 1.5}
    path.write_text('[core]\nmax_iterations = "many"\n')
    with pytest.raises(pytest.UsageError, match=r"config.toml: \[core\] max_iterations must be a number >= 1, got 'many'"):
        core_section(path)


def test_unknown_agent_class_is_one_usage_line_listing_the_version_s_classes(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    write_config(pytester)
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--openhands-agent-class", "CodeActAgnet")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*--openhands-agent-class CodeActAgnet: not an agent class of OpenHands 0.48.0 (it has: BrowsingAgent, CodeActAgent, *)"
    ])
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--openhands-condenser", "magic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--openhands-condenser: invalid choice: 'magic'*"])


def test_max_output_tokens_above_the_model_limit_warns_naming_the_section(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    write_config(pytester, gpt="max_output_tokens = 200000\n")
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*[[]llm.gpt[]] max_output_tokens = 200000 is above openai/gpt-4o's limit of 16384 (litellm)*"])
    write_config(pytester, gpt="max_output_tokens = 4096\n")
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--collect-only", "-q")
    assert "is above" not in result.stdout.str() and result.ret == 0
