"""Gemini CLI for real (its npm release and Node.js, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from installed_run import Tools, run_past_max_steps, run_two_items

from pytest_ohbench.agents.installed.gemini_cli import GeminiCliAgent

pytestmark = pytest.mark.docker
TOOLS = Tools("run_shell_command", "read_file", "replace", (("instruction", "Fix it."),))  # Gemini CLI's (replace wants an instruction)


def test_gemini_cli_resolves_one_instance_and_fails_a_wrong_edit(request: pytest.FixtureRequest) -> None:
    """On a bookworm task image without Node.js (glibc 2.36): the tree brings node, its loader and libraries."""
    outcome = run_two_items(request, "gemini-cli", "gemini/gemini-2.5-flash", TOOLS, section="max_output_tokens = 2048\n")
    # Gemini's streamed generateContent, at the bare model, with Gemini CLI's tools; no side call.
    requests = outcome.requests
    assert {r["path"] for r in requests} == {"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"}
    assert len(requests) == 7 and not any(r["exhausted"] for r in requests)
    assert {r["body"]["generationConfig"].get("maxOutputTokens") for r in requests} == {2048}  # the section's max_output_tokens
    offered = [{d["name"] for t in r["body"]["tools"] for d in t.get("functionDeclarations", [])} for r in requests]
    assert all(set(TOOLS.names()) <= names for names in offered)
    steps = outcome.check(GeminiCliAgent)
    assert steps[2].commands[0].startswith("replace ") and len(steps[2].outputs) == 1


def test_gemini_cli_stops_at_the_step_limit(pytester: pytest.Pytester, swe_suite: Path) -> None:
    """--ohbench-max-steps is its maxSessionTurns: a model call a turn, and its turn-limit error is max_steps."""
    record = run_past_max_steps(pytester, swe_suite, "gemini-cli", "gemini/gemini-2.5-flash", TOOLS)
    assert record["llm_calls"] == 2 and record["input_tokens"] == 2100
