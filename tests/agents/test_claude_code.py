"""Claude Code for real (its npm release's program, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

import pytest
from installed_run import Tools, run_two_items

from pytest_ohbench.agents.installed.claude_code import ClaudeCodeAgent

pytestmark = pytest.mark.docker
TOOLS = Tools("Bash", "Read", "Edit")  # Claude Code's own tools


def test_claude_code_resolves_one_instance_and_fails_a_wrong_edit(request: pytest.FixtureRequest) -> None:
    """On a bookworm task image (glibc 2.36, below the tree's own): the tree brings its loader and libraries."""
    outcome = run_two_items(request, "claude-code", "anthropic/claude-sonnet-4-5", TOOLS)
    # Anthropic's messages, at the bare model, with Claude Code's tools.
    requests = outcome.requests
    assert {r["path"].split("?")[0] for r in requests} == {"/v1/messages"} and len(requests) == 7
    assert {r["body"]["model"] for r in requests} == {"claude-sonnet-4-5"}
    assert all(set(TOOLS.names()) <= {t["name"] for t in r["body"]["tools"]} for r in requests)
    steps = outcome.check(ClaudeCodeAgent)
    assert steps[2].commands[0].startswith("Edit ") and "updated" in steps[2].outputs[0]
    assert [s.prompt_tokens for s in steps] == [1000, 1100, 1200, 1400]
    assert outcome.solved["agent_reported"]["cost_usd"] > 0  # at Claude Code's own list prices
