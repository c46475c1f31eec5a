"""The bundled prompt, GitTaskBench and Harbor suites end to end: real containers, real checks.

A scripted `command` agent (it reads only its prompt, then runs the matching reference
solution) passes every task; noop fails every one; the oracle passes the Harbor tasks; an
agent past its timeout is recorded `timeout` and leaves no container; batch_results.jsonl
has run_batch's fields on Docker and on the local runtime, and a resume reruns only the
tasks that did not succeed; the agent finds no check file while it runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import REPO_ROOT

from pytest_ohbench.kinds.gittaskbench import loader as gittaskbench
from pytest_ohbench.kinds.harbor import loader as harbor
from pytest_ohbench.kinds.prompts import loader as prompts
from pytest_ohbench.plugin.collect_folders import folder_suite
from pytest_ohbench.report.batch import BATCH_FIELDS
from pytest_ohbench.runtime.docker.runtime import RUN_LABEL
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

EXAMPLES = REPO_ROOT / "suites" / "examples"
KINDS = ("prompts", "gittaskbench", "harbor")
ALL_TASKS = {"csv_summary", "extract_todos", "refactor_shapes", "Statkit_01", "Statkit_02", "fix-median", "access-log-report"}
# What a cheating agent would look for: every check file of the bundled suites, by name or place.
PROBE = r"""
echo PROBE-BEGIN
for p in /ohbench/check /tests /logs/verifier "$PWD/test_scripts" "$PWD/groundtruth" /ohbench/solution /solution; do
  [ -e "$p" ] && echo "VISIBLE $p"
done
find / -xdev \( -name 'check_*.py' -o -name 'expected_*' -o -name test_script.py -o -name gt.csv -o -name test.sh \
  -o -name test_outputs.py -o -name grade.py -o -name test_refactor.py -o -name 'solve*.sh' \) 2>/dev/null | sed 's/^/FOUND /'
echo PROBE-END
"""


def copy_suites(target: Path, kinds: tuple[str, ...] = KINDS) -> Path:
    for kind in kinds:
        shutil.copytree(EXAMPLES / kind, target / kind, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def load_tasks(root: Path, kinds: tuple[str, ...] = KINDS) -> list[Any]:
    """The suites' tasks, as the plugin loads them."""
    tasks = []
    if "prompts" in kinds:
        suite = folder_suite(root / "prompts", "prompts")
        tasks += [prompts.load_prompt(p, suite) for p in sorted((root / "prompts").glob("*.md")) if p.name != "README.md"]
    if "gittaskbench" in kinds:
        suite = folder_suite(root / "gittaskbench", "gittaskbench")
        tasks += [gittaskbench.load_task(p, root / "gittaskbench", suite) for p in gittaskbench.task_infos(root / "gittaskbench")]
    if "harbor" in kinds:
        suite = folder_suite(root / "harbor", "harbor")
        tasks += [harbor.load_task(p.parent, suite)[0] for p in sorted((root / "harbor").glob("*/task.toml"))]
    return tasks


def solution_of(task: Any) -> str:
    """The reference solution script of a task, as the agent will run it in its workspace."""
    files = task.reference.files
    return (files / "solve.sh" if files.is_dir() else files).read_text()


def scripted_agent(tasks: list[Any], probe: bool = True, fail: dict[str, str] | None = None) -> str:
    """An --ohbench-command that sees only its prompt and runs the solution of the task it recognises.

    Each task is recognised by the first line of its prompt that no other prompt has;
    `fail` maps an instance id to a shell snippet run instead of its solution.
    """
    lines = ['prompt="$1"', 'work=$(mktemp -d)', PROBE if probe else ""]
    for index, task in enumerate(tasks):
        others = {line for other in tasks if other is not task for line in other.prompt.splitlines()}
        marker = next(line for line in task.prompt.splitlines() if line.strip() and line not in others)
        body = (fail or {}).get(task.instance_id) or solution_of(task)
        lines += [f"cat > \"$work/{index}.sh\" <<'OHBENCH_SOLUTION_{index}'", body.rstrip("\n"), f"OHBENCH_SOLUTION_{index}",
                  f'if grep -qF -- {shlex.quote(marker)} "$prompt"; then exec bash "$work/{index}.sh"; fi']
    lines.append('echo "no solution for this prompt" >&2; exit 3')
    script = "\n".join(lines)
    # The template goes through str.format: the script's own braces are doubled.
    return "bash -c " + shlex.quote(script).replace("{", "{{").replace("}", "}}") + " solver {prompt_file}"


def run_lines(pytester: pytest.Pytester, name: str, run_id: str) -> list[dict[str, Any]]:
    path = pytester.path / "reports" / run_id / name
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_batch_lines(lines: list[dict[str, Any]], tasks: set[str]) -> None:
    assert len(lines) == len(tasks)
    for line in lines:
        missing = [field for field in BATCH_FIELDS if field not in line]
        assert not missing, (line["task_name"], missing)
        assert line["status"] in ("success", "failed", "timeout", "error")
        assert isinstance(line["return_code"], int) and isinstance(line["elapsed_time_seconds"], float)
        assert line["total_tokens"] == line["total_input_tokens"] + line["total_output_tokens"]
        assert Path(line["prompt_file"]).is_file()


def assert_no_containers(client: docker.DockerClient, run_id: str) -> None:
    assert client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}) == []


@pytest.mark.docker
def test_a_scripted_agent_passes_every_task_without_seeing_any_check_file(
    pytester: pytest.Pytester, base_image: str, docker_client: docker.DockerClient
) -> None:
    root = copy_suites(pytester.path)
    tasks = load_tasks(root)
    assert {t.instance_id for t in tasks} == ALL_TASKS
    result = pytester.runpytest_subprocess(
        *KINDS, "--agent", "command", "--ohbench-command", scripted_agent(tasks), "--ohbench-run-id", "cmd", "-n", "2"
    )
    result.assert_outcomes(passed=len(ALL_TASKS))
    records = {r["instance_id"]: r for r in run_lines(pytester, "results.jsonl", "cmd")}
    assert set(records) == ALL_TASKS and {r["outcome"] for r in records.values()} == {"resolved"}
    for name, record in records.items():
        # While the agent ran, no check file was anywhere it could look...
        seen = record["agent_stdout"]
        assert "PROBE-BEGIN" in seen and "PROBE-END" in seen, name
        assert [line for line in seen.splitlines() if line.startswith(("VISIBLE", "FOUND"))] == [], name
    # ...and afterwards the checks ran with them and judged real outputs.
    assert records["csv_summary"]["check"]["log"].startswith("PASS: 4 regions match")
    assert records["Statkit_01"]["check"]["result"] is True and records["Statkit_01"]["check"]["comments"] == "all 10 rows match"
    assert records["Statkit_02"]["check"]["output"] == "/GitTaskBench/output/Statkit_02/output.json"
    assert records["access-log-report"]["check"]["rewards"]["bytes_served"] == 1.0
    assert records["fix-median"]["check"]["reward"] == 1.0
    lines = run_lines(pytester, "batch_results.jsonl", "cmd")
    assert_batch_lines(lines, ALL_TASKS)
    assert {line["task_name"] for line in lines} == {
        "csv_summary.md", "extract_todos.md", "refactor_shapes.md", "Statkit_01.md", "Statkit_02.md", "fix-median", "access-log-report"
    }
    assert {(line["status"], line["return_code"], line["outcome"]) for line in lines} == {("success", 0, "resolved")}
    run_dir = pytester.path / "reports" / "cmd"
    assert len(list((run_dir / "trajectories").glob("*.json"))) == len(ALL_TASKS)
    assert "--- Finished task: csv_summary.md (success) ---" in (run_dir / "batch_run.log").read_text()
    assert_no_containers(docker_client, "cmd")


@pytest.mark.docker
def test_noop_fails_every_task_with_a_check(pytester: pytest.Pytester, base_image: str) -> None:
    copy_suites(pytester.path)
    result = pytester.runpytest_subprocess(*KINDS, "--agent", "noop", "--ohbench-run-id", "noop", "-n", "2")
    result.assert_outcomes(failed=len(ALL_TASKS))
    records = run_lines(pytester, "results.jsonl", "noop")
    assert {r["outcome"] for r in records} == {"unresolved"} and len(records) == len(ALL_TASKS)
    checks = {r["instance_id"]: r["check"] for r in records}
    assert checks["refactor_shapes"]["exit_code"] != 0  # the hidden tests ran, and failed
    assert checks["Statkit_01"]["comments"] == "output directory not found: /GitTaskBench/output/Statkit_01"
    assert checks["fix-median"]["reward"] == 0.0 and checks["access-log-report"]["reward"] == 0.0


@pytest.mark.docker
def test_oracle_passes_every_harbor_task(pytester: pytest.Pytester, base_image: str, docker_client: docker.DockerClient) -> None:
    copy_suites(pytester.path, ("harbor",))
    result = pytester.runpytest_subprocess("harbor", "--agent", "oracle", "--ohbench-run-id", "oracle")
    result.assert_outcomes(passed=2)
    records = run_lines(pytester, "results.jsonl", "oracle")
    assert {(r["instance_id"], r["outcome"], r["check"]["reward"]) for r in records} == {
        ("fix-median", "resolved", 1.0), ("access-log-report", "resolved", 1.0)
    }
    assert {r["image_source"] for r in records} <= {"build", "cached"}
    assert_no_containers(docker_client, "oracle")


@pytest.mark.docker
def test_an_agent_past_its_timeout_is_recorded_timeout_and_its_container_is_gone(
    pytester: pytest.Pytester, base_image: str, docker_client: docker.DockerClient
) -> None:
    folder = pytester.mkdir("slow")
    (folder / "sleepy.md").write_text("---\nagent_timeout: 2\ncheck: test -f done.txt\n---\nCreate done.txt.\n")
    result = pytester.runpytest_subprocess(
        "slow", "--agent", "command", "--ohbench-command", "sleep 60; touch done.txt", "--ohbench-run-id", "slow"
    )
    result.assert_outcomes(failed=1)
    [record] = run_lines(pytester, "results.jsonl", "slow")
    assert (record["outcome"], record["agent_status"]) == ("agent_timeout", "timeout")
    [line] = run_lines(pytester, "batch_results.jsonl", "slow")
    assert_batch_lines([line], {"sleepy"})
    assert (line["task_name"], line["status"], line["return_code"]) == ("sleepy.md", "timeout", -1)
    assert 1.5 < line["elapsed_time_seconds"] < 30
    assert_no_containers(docker_client, "slow")


def test_local_runtime_batch_results_and_resume_of_what_did_not_succeed(pytester: pytest.Pytester) -> None:
    root = copy_suites(pytester.path, ("prompts", "gittaskbench"))
    todos = root / "prompts" / "extract_todos.md"
    todos.write_text(todos.read_text().replace("---\n", "---\nagent_timeout: 3\n", 1))
    tasks = load_tasks(root, ("prompts", "gittaskbench"))
    names = {t.instance_id for t in tasks}
    first = scripted_agent(tasks, probe=False, fail={"csv_summary": "echo 'cannot do it' >&2; exit 7", "extract_todos": "sleep 60"})
    result = pytester.runpytest_subprocess(
        "prompts", "gittaskbench", "--agent", "command", "--ohbench-command", first,
        "--ohbench-runtime", "local", "--ohbench-run-id", "local",
    )
    result.assert_outcomes(passed=3, failed=2)
    lines = run_lines(pytester, "batch_results.jsonl", "local")
    assert_batch_lines(lines, names)
    status = {line["task_name"]: (line["status"], line["return_code"]) for line in lines}
    assert status == {
        "csv_summary.md": ("failed", 7), "extract_todos.md": ("timeout", -1), "refactor_shapes.md": ("success", 0),
        "Statkit_01.md": ("success", 0), "Statkit_02.md": ("success", 0),
    }
    assert next(line for line in lines if line["task_name"] == "csv_summary.md")["stdout"].strip() == "cannot do it"
    # The rerun: only the two that did not succeed run, now with a working agent.
    result = pytester.runpytest_subprocess(
        "prompts", "gittaskbench", "--agent", "command", "--ohbench-command", scripted_agent(tasks, probe=False),
        "--ohbench-runtime", "local", "--ohbench-resume", str(pytester.path / "reports" / "local"),
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*2 passed, 3 deselected*"])
    lines = run_lines(pytester, "batch_results.jsonl", "local")
    assert_batch_lines(lines, names)
    assert {line["status"] for line in lines} == {"success"}
    assert len(run_lines(pytester, "results.jsonl", "local")) == len(names)


def test_mini_with_a_scripted_llm_on_the_local_runtime(pytester: pytest.Pytester) -> None:
    root = copy_suites(pytester.path, ("prompts",))
    [task] = [t for t in load_tasks(root, ("prompts",)) if t.instance_id == "csv_summary"]
    call = lambda command, tokens: {  # noqa: E731
        "content": "ok", "tool_calls": [{"name": "bash", "arguments": {"command": command}}],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 40, "cached_tokens": 100},
    }
    script = {"scripts": [{"match": "Summarise sales by region", "responses": [
        call("head -3 sales.csv", 900), call(solution_of(task), 1100), call("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", 1200),
    ]}]}
    with ScriptedLLMServer(script) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.gpt]\nmodel = "openai/gpt-4o"\napi_key = "sk-test"\nbase_url = "{server.base_url}"\n'
            "input_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n"
        )
        result = pytester.runpytest_subprocess(
            "prompts", "-k", "csv_summary", "--agent", "mini", "--llm-config", "gpt", "--ohbench-runtime", "local",
            "--ohbench-run-id", "mini",
        )
    result.assert_outcomes(passed=1)
    [line] = run_lines(pytester, "batch_results.jsonl", "mini")
    assert_batch_lines([line], {"csv_summary"})
    assert (line["status"], line["total_input_tokens"], line["total_output_tokens"], line["cache_read_tokens"]) == (
        "success", 3200, 120, 300)
    assert line["total_cost"] == pytest.approx(3200 * 0.000001 + 120 * 0.000002)
    assert (pytester.path / "reports" / "mini" / "trajectories" / "csv_summary.json").is_file()


# An agent that does what the prompt says, with the paths it names: the repository and the input
# must exist where the prompt puts them (else it exits 1 naming the one missing).
PROMPT_FOLLOWER = r"""
import os, re, subprocess, sys
prompt = open(sys.argv[1], encoding="utf-8").read()
repo = re.search(r"Path \(absolute\): (\S+)", prompt).group(1)
source = re.search(r"^- (\S+?): ", prompt, re.M).group(1)
output = re.search(r"Save the results in (\S+?)\. ", prompt).group(1)
for path in (repo, source):
    if not os.path.exists(path):
        sys.exit(f"the prompt names {path}, which does not exist")
os.makedirs(output, exist_ok=True)
words = subprocess.run([sys.executable, "-m", "statkit", "wordfreq", source, "--top", "10", "--min-length", "4"],
                       env={**os.environ, "PYTHONPATH": repo}, check=True, capture_output=True, text=True).stdout
open(os.path.join(output, "output.csv"), "w", encoding="utf-8").write(words)
"""
# Where a GitTaskBench run that took the container's paths for the host's would write.
OUTSIDE = ("/GitTaskBench", "/output", "/test_results", "/queries", "/code_base", "/groundtruth", "/ohbench", "/solution")


def test_gittaskbench_on_the_local_runtime_uses_its_host_workspace_and_writes_nothing_outside(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_suites(pytester.path, ("gittaskbench",)) / "gittaskbench"
    # As GitTaskBench's own files may: absolute /GitTaskBench paths for the result, and a solution
    # that uses absolute paths as the prompt asks (the workspace from the oracle's environment).
    info = root / "config" / "Statkit_01" / "task_info.yaml"
    info.write_text(info.read_text().replace("result: test_results/", "result: /GitTaskBench/test_results/"))
    solve = root / "solutions" / "Statkit_02" / "solve.sh"
    solve.write_text(solve.read_text().replace("set -euo pipefail\n", 'set -euo pipefail\ncd /\nws="${OHBENCH_WORKSPACE:?}"\n')
                     .replace("output/", "$ws/output/").replace("code_base/", "$ws/code_base/").replace("queries/", "$ws/queries/"))
    (pytester.path / "agent.py").write_text(PROMPT_FOLLOWER)
    workspaces = pytester.mkdir("tmp")  # the local runtime's folders go to the temp folder
    monkeypatch.setenv("TMPDIR", str(workspaces))
    top_before, outside_before = set(os.listdir("/")), {p for p in OUTSIDE if os.path.lexists(p)}

    result = pytester.runpytest_subprocess("gittaskbench", "--agent", "oracle", "--ohbench-runtime", "local", "--ohbench-run-id", "oracle")
    result.assert_outcomes(passed=2)
    for record in run_lines(pytester, "results.jsonl", "oracle"):
        named = re.findall(r"(?:Path \(absolute\): |^- |Save the results in )(/\S+?)[:.]?(?:\s|$)", record["instruction"], re.M)
        assert named and all(path.startswith(f"{workspaces}/ohbench-oracle-") for path in named), record["instruction"]
        assert "/GitTaskBench/" in named[0] and " /GitTaskBench" not in record["instruction"]
    agent = f"{sys.executable} {pytester.path / 'agent.py'} {{prompt_file}}"
    result = pytester.runpytest_subprocess(
        "gittaskbench", "-k", "Statkit_01", "--agent", "command", "--ohbench-command", agent, "--ohbench-runtime", "local",
        "--ohbench-run-id", "follower",
    )
    result.assert_outcomes(passed=1)

    assert set(os.listdir("/")) == top_before
    assert {p for p in OUTSIDE if os.path.lexists(p)} == outside_before
    assert list(workspaces.iterdir()) == []  # every task's folder was removed


def test_an_absolute_input_target_on_the_local_runtime_lands_in_the_task_folder(pytester: pytest.Pytester) -> None:
    target = f"/ohbench-input-{os.getpid()}-{pytester.path.name[-12:]}"  # a top folder the host must not get
    prompts_dir = pytester.mkdir("prompts")
    (prompts_dir / "data.csv").write_text("a,b\n")
    (prompts_dir / "copy.md").write_text(
        f"---\nfiles: [{{source: data.csv, target: {target}/data.csv}}]\n"
        f'check: test -f "$OHBENCH_ROOT{target}/data.csv"\n---\nLook at {target}/data.csv.\n'
    )
    result = pytester.runpytest_subprocess("prompts", "--agent", "noop", "--ohbench-runtime", "local")
    created = os.path.lexists(target)
    if created:
        shutil.rmtree(target)
    assert not created, f"the run made {target} on the host"
    result.assert_outcomes(passed=1)
