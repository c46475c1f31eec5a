"""The real OpenHands (CodeActAgent) in the loop, driven by the scripted LLM on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from pytest_ohbench.agents.openhands import LAYER_REPOSITORY
from pytest_ohbench.testing.llm_server import ScriptedLLMServer, credential_hash

pytestmark = pytest.mark.docker
SECRET = "sk-ohbench-openhands-SECRET-51e2"
TRUNCATE_ISSUE = "truncate returns one character too many"
TOUCHING_ISSUE = "Touching intervals do not overlap"


def call(name: str, prompt: int, completion: int, **arguments: Any) -> dict[str, Any]:
    return {"content": f"calling {name}", "tool_calls": [{"name": name, "arguments": arguments}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def edit(path: str, old: str, new: str, prompt: int, completion: int) -> dict[str, Any]:
    return call("str_replace_editor", prompt, completion, command="str_replace", path=path, old_str=old, new_str=new)


SOLVE_TRUNCATE = [
    call("execute_bash", 1000, 50, command="cat textkit/wrap.py"),
    edit("/testbed/textkit/wrap.py", "width - len(ellipsis) + 1]", "width - len(ellipsis)]", 1200, 80),
    call("execute_bash", 1400, 30, command="python3 -m pytest -q tests/test_wrap.py"),
    call("finish", 1500, 20, message="Fixed truncate.", task_completed="true"),
]
GIVE_UP_TRUNCATE = [  # edits the wrong thing, then gives up: judged unresolved
    edit("/testbed/textkit/wrap.py", "width - len(ellipsis) + 1]", "width - len(ellipsis) + 2]", 800, 40),
    call("finish", 900, 10, message="I could not fix it.", task_completed="false"),
]
SOLVE_TOUCHING = [
    edit("/testbed/intervals/core.py", "self.start < other.end and other.start < self.end",
         "self.start <= other.end and other.start <= self.end", 700, 60),
    call("finish", 800, 10, message="Closed intervals now overlap at their ends.", task_completed="true"),
]


def run(pytester: pytest.Pytester, scripts: list[dict[str, Any]], *args: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    """Run OpenHands on the suite; it reaches the scripted server through the run's LLM gateway."""
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm]\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\nnum_retries = 0\n\n'
            '[llm.gpt]\nmodel = "openai/gpt-4o"\ninput_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n'
        )
        # No --agent: a model alone runs OpenHands.
        result = pytester.runpytest_subprocess("suites", "--llm-config", "gpt", *args)
        # The real key reached the upstream only from the gateway; OpenHands held a token.
        assert {r["auth_sha256"] for r in server.requests} <= {credential_hash(f"Bearer {SECRET}")}
    lines = (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()
    return result, {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


def assert_no_secret(pytester: pytest.Pytester) -> None:
    leaking = [str(p) for p in (pytester.path / "reports").rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaking == []


def test_openhands_fixes_an_instance_with_its_editor_and_the_script_cost(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str
) -> None:
    result, records = run(pytester, [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}], "-k", "textkit-2")
    result.assert_outcomes(passed=1)
    record = records["ohbench__textkit-2"]
    assert (record["outcome"], record["agent_status"], record["agent"]) == ("resolved", "finished", "openhands")
    assert (record["input_tokens"], record["output_tokens"], record["llm_calls"]) == (5100, 180, 4)
    assert record["cost_usd"] == pytest.approx(5100 * 0.000001 + 180 * 0.000002, rel=1e-9)
    # Metered by the gateway; OpenHands' own accounting kept beside it, and equal.
    assert (record["llm"]["upstream_requests"], record["agent_reported"]["llm_calls"]) == (4, 4)
    assert record["agent_reported"]["cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-9)
    assert record["agent_reported"]["input_tokens"] == record["input_tokens"]
    log_dir = pytester.path / record["log_dir"]
    events = json.loads((log_dir / "trajectory.json").read_text())
    assert any(e.get("action") == "edit" for e in events) and any(e.get("action") == "finish" for e in events)
    assert list((log_dir / "completions").glob("*.json"))
    [output] = [json.loads(line) for line in (pytester.path / "reports" / "latest" / "output.jsonl").read_text().splitlines()]
    assert output["history"] == events and output["test_result"]["git_patch"] == record["patch"]
    assert_no_secret(pytester)


def test_openhands_that_gives_up_is_unresolved(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    result, records = run(pytester, [{"match": TRUNCATE_ISSUE, "responses": GIVE_UP_TRUNCATE}], "-k", "textkit-2")
    result.assert_outcomes(failed=1)
    record = records["ohbench__textkit-2"]
    assert record["outcome"] == "unresolved" and record["fail_to_pass"]["failure"]
    assert record["cost_usd"] == pytest.approx(1700 * 0.000001 + 50 * 0.000002, rel=1e-9)
    assert_no_secret(pytester)


def test_parallel_runs_build_the_openhands_layer_once_per_task_image(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    scripts = [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}, {"match": TOUCHING_ISSUE, "responses": SOLVE_TOUCHING}]
    selection = ("-k", "textkit-2 or intervals-1", "-n", "2")
    result, records = run(pytester, scripts, *selection)
    result.assert_outcomes(passed=2)
    layers = {image.id for image in docker_client.images.list(name=LAYER_REPOSITORY)}
    result, records = run(pytester, scripts, *selection)
    result.assert_outcomes(passed=2)
    assert {image.id for image in docker_client.images.list(name=LAYER_REPOSITORY)} == layers  # no rebuild
    assert all(r["durations"]["agent_image"] < 30 for r in records.values())
