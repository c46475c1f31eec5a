"""Checks of an installed agent's real run that take the agent's own scripts (Codex's and
opencode's tools take other arguments than installed_run.Tools shapes): the two items run
through installed_run.run_scripted, then their records and trajectory checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from installed_run import run_scripted
from test_openhands import SECRET

from pytest_ohbench.agents.base import TrajectoryStep
from pytest_ohbench.agents.trajectory import validate

PRICES = (0.000003, 0.000015)  # input, output USD per token


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
    done = run_scripted(pytester, swe_suite, image, agent, scripts, model, PRICES, SECRET)
    done.result.assert_outcomes(passed=1, failed=1)
    return done.requests, done.folder, done.records


def assert_two_records(records: dict[str, dict[str, Any]], agent: str, solved_figures: tuple[int, int, int],
                       wrong_figures: tuple[int, int, int]) -> dict[str, Any]:
    """textkit-2 resolved and intervals-1 unresolved by its half fix, each at the gateway's exact
    (prompt, completion, calls) and cost at the section's prices: the solved record."""
    solved, wrong = records["ohbench__textkit-2"], records["ohbench__intervals-1"]
    assert (solved["outcome"], solved["agent_status"], solved["agent"]) == ("resolved", "finished", agent)
    assert (wrong["outcome"], wrong["agent_status"]) == ("unresolved", "finished")
    for record, (prompt, completion, calls) in ((solved, solved_figures), (wrong, wrong_figures)):
        assert (record["input_tokens"], record["output_tokens"], record["llm_calls"]) == (prompt, completion, calls)
        assert record["cost_usd"] == pytest.approx(prompt * PRICES[0] + completion * PRICES[1], rel=1e-9)
    assert solved["agent_reported"]["input_tokens"] == solved_figures[0]  # the agent's own count agrees
    assert "-    return text[: width - len(ellipsis) + 1] + ellipsis" in solved["patch"]
    assert "+        return self.start <= other.end and other.start < self.end" in wrong["patch"]
    return solved


def assert_trajectory(run: Path, log_dir: Path, steps: list[TrajectoryStep], version: str) -> None:
    """The first step ran the grep with the image's own tools; the steps are trajectory.json's (valid
    ATIF, the agent's version), report.html shows them and run.json has the version."""
    assert steps[0].commands == ["grep -n ellipsis textkit/wrap.py && python3 --version"]
    assert "width - len(ellipsis) + 1" in steps[0].outputs[0] and "Python 3.11" in steps[0].outputs[0]
    atif = json.loads((log_dir / "trajectory.json").read_text())
    assert validate(atif) == [] and atif["agent"]["version"] == version
    assert [step["message"] for step in atif["steps"] if step["source"] == "agent"] == [s.text for s in steps]
    page = (run / "report.html").read_text()
    assert "ohbench-trajectory" in page and "grep -n ellipsis textkit/wrap.py &amp;&amp; python3 --version" in page
    assert json.loads((run / "run.json").read_text())["agent_version"] == version
