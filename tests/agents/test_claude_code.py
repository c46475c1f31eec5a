"""Claude Code for real (its npm release's program, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import run_output
from test_openhands import SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret

from pytest_ohbench.agents.base import DEFAULT_CLAUDE_CODE_VERSION, TrajectoryStep
from pytest_ohbench.agents.installed.claude_code import ClaudeCodeAgent
from pytest_ohbench.agents.trajectory import read_log, validate
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

pytestmark = pytest.mark.docker
TOOLS = ["Bash", "Edit", "Read"]  # Claude Code's own tool names


def step(prompt: int, completion: int, text: str, name: str = "", **arguments: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"content": text, "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    if name:
        response["tool_calls"] = [{"name": name, "arguments": arguments}]
    return response


SOLVE_TRUNCATE = [
    step(1000, 50, "Where is the slice?", "Bash", command="grep -n ellipsis textkit/wrap.py && python3 --version"),
    step(1100, 20, "Read it.", "Read", file_path="/testbed/textkit/wrap.py"),
    step(1200, 80, "One too many.", "Edit", file_path="/testbed/textkit/wrap.py",
         old_string="width - len(ellipsis) + 1]", new_string="width - len(ellipsis)]"),
    step(1400, 20, "Fixed truncate."),
]
WRONG_TOUCHING = [  # only one side of the comparison: touching intervals still do not overlap
    step(700, 20, "Read it.", "Read", file_path="/testbed/intervals/core.py"),
    step(800, 40, "Half a fix.", "Edit", file_path="/testbed/intervals/core.py",
         old_string="self.start < other.end and", new_string="self.start <= other.end and"),
    step(900, 10, "Done."),
]


def run_two_items(pytester: pytest.Pytester, swe_suite: Path, image: str, agent: str, model: str,
                  scripts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Path, dict[str, dict[str, Any]]]:
    """`--agent agent` at `model` (from a scripted server, through the gateway) on textkit-2, which
    it solves, and intervals-1, which it gets wrong, on task image `image`: the requests the
    server answered, the run folder and its records by instance id."""
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {image}"))
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.section]\nmodel = "{model}"\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\n'
            "input_cost_per_token = 0.000003\noutput_cost_per_token = 0.000015\n"
        )
        result = pytester.runpytest_subprocess("suites", "--agent", agent, "--llm-config", "section",
                                               "-k", "textkit-2 or intervals-1", "-n", "2")
        requests = [r for r in server.requests if r.get("body")]
    result.assert_outcomes(passed=1, failed=1)
    run = pytester.path / "reports" / "latest"
    records = {json.loads(line)["instance_id"]: json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()}
    return requests, run, records


def assert_two_records(records: dict[str, dict[str, Any]], agent: str, solved_figures: tuple[int, int, int],
                       wrong_figures: tuple[int, int, int]) -> dict[str, Any]:
    """textkit-2 resolved and intervals-1 unresolved by its half fix, each at the gateway's exact
    (prompt, completion, calls) and cost at the section's prices: the solved record."""
    solved, wrong = records["ohbench__textkit-2"], records["ohbench__intervals-1"]
    assert (solved["outcome"], solved["agent_status"], solved["agent"]) == ("resolved", "finished", agent)
    assert (wrong["outcome"], wrong["agent_status"]) == ("unresolved", "finished")
    for record, (prompt, completion, calls) in ((solved, solved_figures), (wrong, wrong_figures)):
        assert (record["input_tokens"], record["output_tokens"], record["llm_calls"]) == (prompt, completion, calls)
        assert record["cost_usd"] == pytest.approx(prompt * 0.000003 + completion * 0.000015, rel=1e-9)
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


def test_claude_code_resolves_one_instance_and_fails_a_wrong_edit(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """On a bookworm task image (glibc 2.36, below the tree's own): the tree brings its loader and libraries."""
    scripts = [{"match": TRUNCATE_ISSUE, "tools": TOOLS, "responses": SOLVE_TRUNCATE},
               {"match": TOUCHING_ISSUE, "tools": TOOLS, "responses": WRONG_TOUCHING}]
    requests, run, records = run_two_items(pytester, swe_suite, old_debian_images[0], "claude-code", "anthropic/claude-sonnet-4-5",
                                           scripts)
    # Every call came through the gateway (the real key put back in Anthropic's header), at the bare model, with Claude Code's tools.
    assert {r["auth_sha256"] for r in requests} == {credential_hash(SECRET)}
    assert {r["path"].split("?")[0] for r in requests} == {"/v1/messages"} and len(requests) == 7
    assert {r["body"]["model"] for r in requests} == {"claude-sonnet-4-5"}
    assert all(set(TOOLS) <= {t["name"] for t in r["body"]["tools"]} for r in requests)
    solved = assert_two_records(records, "claude-code", (4700, 170, 4), (2400, 70, 3))
    assert solved["agent_reported"]["llm_calls"] == 4
    # Its stream-json events are the trajectory; its commands ran with the image's own tools.
    log_dir = pytester.path / solved["log_dir"]
    steps = ClaudeCodeAgent.trajectory_steps(read_log(log_dir / "claude-code.events.jsonl"))
    assert [s.text for s in steps] == ["Where is the slice?", "Read it.", "One too many.", "Fixed truncate."]
    assert steps[2].commands[0].startswith("Edit ") and "updated" in steps[2].outputs[0]
    assert [s.prompt_tokens for s in steps] == [1000, 1100, 1200, 1400]
    assert_trajectory(run, log_dir, steps, DEFAULT_CLAUDE_CODE_VERSION)
    version = run_output(docker_client, solved["image"], ["sh", "-c", "ldd --version | head -n1"]).decode()
    assert "2.36" in version  # older than the tree's glibc 2.41
    assert_no_secret(pytester)
