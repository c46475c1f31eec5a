"""OpenHands V1 (openhands-sdk's default coding agent) for real, driven by the scripted LLM on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import run_output
from test_openhands import DISK_CONFTEST, SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret
from tinysuite import make_shell_suite

from pytest_ohbench.agents.trajectory import validate
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.docker


def call(name: str, prompt: int, completion: int, **arguments: Any) -> dict[str, Any]:
    return {"content": f"calling {name}", "tool_calls": [{"name": name, "arguments": arguments}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


SOLVE_TRUNCATE = [  # the SDK's own tool names: terminal, file_editor, finish
    call("terminal", 1000, 50, command="grep -n ellipsis textkit/wrap.py"),
    call("file_editor", 1200, 80, command="str_replace", path="/testbed/textkit/wrap.py",
         old_str="width - len(ellipsis) + 1]", new_str="width - len(ellipsis)]"),
    call("finish", 1400, 20, message="Fixed truncate."),
]
SOLVE_SHELL = [  # on an image with no Python at all: the SDK's tools run with the image's own shell
    call("file_editor", 600, 40, command="str_replace", path="/testbed/calc.sh", old_str="$(($1 - $2))", new_str="$(($1 + $2))"),
    call("terminal", 700, 20, command="bash tests/run.sh && ! command -v python3"),
    call("finish", 750, 10, message="add adds."),
]
GIVE_UP_TOUCHING = [
    call("terminal", 700, 30, command="grep -n overlaps intervals/core.py"),
    call("finish", 800, 10, message="I could not fix it."),
]


def test_openhands_sdk_resolves_one_instance_and_gives_up_on_another(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """On task images from bookworm (Python 3.11, below the SDK's 3.12) and with no Python at all."""
    with_python, without_python = old_debian_images
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {with_python}"))
    make_shell_suite(pytester.path / "suites" / "shell", without_python)
    pytester.makeconftest(DISK_CONFTEST)
    scripts = [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}, {"match": TOUCHING_ISSUE, "responses": GIVE_UP_TOUCHING},
               {"match": "add 2 3 prints -1", "responses": SOLVE_SHELL}]
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm]\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\nnum_retries = 0\n\n'
            '[llm.gpt]\nmodel = "openai/gpt-4o"\ninput_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n'
        )
        result = pytester.runpytest_subprocess(
            "suites", "--agent", "openhands-sdk", "--llm-config", "gpt", "-k", "textkit-2 or intervals-1 or shell", "-n", "2"
        )
        first = next(r for r in server.requests if r.get("body"))
        tools = {t["function"]["name"] for t in first["body"].get("tools", [])}
    result.assert_outcomes(passed=2, failed=1)
    lines = (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()
    records = {json.loads(line)["instance_id"]: json.loads(line) for line in lines}
    solved, gave_up = records["ohbench__textkit-2"], records["ohbench__intervals-1"]
    assert (solved["outcome"], solved["agent_status"], solved["agent"]) == ("resolved", "finished", "openhands-sdk")
    assert (solved["input_tokens"], solved["output_tokens"], solved["llm_calls"]) == (3600, 150, 3)
    assert solved["cost_usd"] == pytest.approx(3600 * 0.000001 + 150 * 0.000002, rel=1e-6)
    assert "-    return text[: width - len(ellipsis) + 1] + ellipsis" in solved["patch"]
    events = json.loads((pytester.path / solved["log_dir"] / "openhands-sdk.events.json").read_text())
    actions = [e for e in events if e.get("kind") == "ActionEvent"]
    assert [a["tool_name"] for a in actions] == ["terminal", "file_editor", "finish"]
    trajectory = json.loads((pytester.path / solved["log_dir"] / "trajectory.json").read_text())
    assert validate(trajectory) == [] and trajectory["agent"]["version"] == "1.57.0"
    assert [c["function_name"] for s in trajectory["steps"] for c in s.get("tool_calls", [])] == ["terminal", "file_editor", "finish"]
    assert "total_cost_usd" not in trajectory["final_metrics"]  # the SDK's events carry no cost per step: none is claimed
    observations = [e for e in events if e.get("kind") == "ObservationEvent"]
    assert "ellipsis" in json.dumps(observations[0])  # the grep really ran in the task container
    assert (gave_up["outcome"], gave_up["agent_status"], gave_up["patch"]) == ("empty_patch", "finished", "")
    assert gave_up["cost_usd"] == pytest.approx(1500 * 0.000001 + 40 * 0.000002, rel=1e-6)
    shell = records["shell__calc-1"]
    assert (shell["outcome"], shell["agent_status"]) == ("resolved", "finished")
    for record in (solved, shell):
        version = run_output(docker_client, record["image"], ["sh", "-c", "python3 --version 2>/dev/null || echo none"])
        assert version.decode().startswith("none" if record is shell else "Python 3.11")
        disk = json.loads((pytester.path / record["log_dir"] / "container_disk.json").read_text())["size_rw"]
        print(f"{record['instance_id']} on {record['image']}: agent disk {disk / 1e6:.1f} MB (container writable layer)")
        assert disk < 50e6
    assert {"terminal", "file_editor", "finish"} <= tools  # the SDK's default agent offered its own tools
    assert_no_secret(pytester)
