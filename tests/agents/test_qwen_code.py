"""Qwen Code for real (its npm release and Node.js, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from installed_run import Tools, run_past_max_steps, run_two_items

from pytest_ohbench.agents.installed.qwen_code import QwenCodeAgent

pytestmark = pytest.mark.docker
TOOLS = Tools("run_shell_command", "read_file", "edit")  # Qwen Code's own tools


def test_qwen_code_resolves_one_instance_and_fails_a_wrong_edit(request: pytest.FixtureRequest) -> None:
    """On a bookworm task image without Node.js (glibc 2.36): the tree brings node, its loader and libraries."""
    outcome = run_two_items(request, "qwen-code", "openai/qwen3-coder-plus", TOOLS, section="max_output_tokens = 2048\n")
    # OpenAI's streamed chat completions, at the bare model, with Qwen Code's tools; no side call.
    requests = outcome.requests
    assert {r["path"] for r in requests} == {"/v1/chat/completions"} and len(requests) == 7
    assert {r["body"]["model"] for r in requests} == {"qwen3-coder-plus"} and not any(r["exhausted"] for r in requests)
    assert {r["body"]["max_tokens"] for r in requests} == {2048}  # the section's max_output_tokens
    assert all(set(TOOLS.names()) <= {t["function"]["name"] for t in r["body"]["tools"]} for r in requests)
    steps = outcome.check(QwenCodeAgent)
    assert steps[2].commands[0].startswith("edit ") and len(steps[2].outputs) == 1
    assert [s.prompt_tokens for s in steps] == [1000, 1100, 1200, 1400]


def test_qwen_code_stops_at_the_step_limit(pytester: pytest.Pytester, swe_suite: Path) -> None:
    """--ohbench-max-steps is its --max-session-turns: it exits 53 without a result event, which is max_steps."""
    record = run_past_max_steps(pytester, swe_suite, "qwen-code", "openai/qwen3-coder-plus", TOOLS)
    assert record["llm_calls"] == 2 and record["input_tokens"] == 2100
