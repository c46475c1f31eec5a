"""The real run of an installed agent whose tools take other arguments than installed_run.Tools
shapes (Codex's, opencode's): its own scripts, run through installed_run.run_scripted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from installed_run import INPUT_PRICE, OUTPUT_PRICE, run_scripted
from test_openhands import SECRET


def step(prompt: int, completion: int, text: str, name: str = "", **arguments: Any) -> dict[str, Any]:
    """One scripted answer: its text, at most one call of the agent's tool `name`, its usage."""
    response: dict[str, Any] = {"content": text, "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    if name:
        response["tool_calls"] = [{"name": name, "arguments": arguments}]
    return response


def run_two_items(pytester: pytest.Pytester, swe_suite: Path, image: str, agent: str, model: str,
                  scripts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Path, dict[str, dict[str, Any]]]:
    """`--agent agent` at `model` on textkit-2, which it solves, and intervals-1, which it gets
    wrong, on task image `image`: the requests the server answered, the run folder, the records."""
    done = run_scripted(pytester, swe_suite, image, agent, scripts, model, (INPUT_PRICE, OUTPUT_PRICE), SECRET)
    done.result.assert_outcomes(passed=1, failed=1)
    return done.requests, done.folder, done.records
