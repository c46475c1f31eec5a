"""The real OpenHands (CodeActAgent) in the loop, driven by the scripted LLM on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import EXAMPLES_SWE, REPO_ROOT, run_output
from tinysuite import make_shell_suite

from pytest_ohbench.agents.agent_tree import trees_dir
from pytest_ohbench.agents.trajectory import validate
from pytest_ohbench.report.openhands_tree import EVAL_METADATA_FIELDS, EVAL_OUTPUT_FIELDS
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

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


def run(
    pytester: pytest.Pytester, scripts: list[dict[str, Any]], *args: str, core: str = "", requests: list | None = None
) -> tuple[pytest.RunResult, dict[str, dict]]:
    """Run OpenHands on the suite; it reaches the scripted server through the run's LLM gateway.

    `requests`, when given, receives the requests the server answered.
    """
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'{core}[llm]\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\nnum_retries = 0\n\n'
            '[llm.gpt]\nmodel = "openai/gpt-4o"\ninput_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n'
        )
        # No --agent: a model alone runs OpenHands.
        result = pytester.runpytest_subprocess("suites", "--llm-config", "gpt", *args)
        # The real key reached the upstream only from the gateway; OpenHands held a token.
        assert {r["auth_sha256"] for r in server.requests} <= {credential_hash(f"Bearer {SECRET}")}
        if requests is not None:
            requests.extend(server.requests)
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
    events = json.loads((log_dir / "openhands.trajectory.json").read_text())
    assert any(e.get("action") == "edit" for e in events) and any(e.get("action") == "finish" for e in events)
    # Beside OpenHands' own trajectory, the one format: each LLM step with what its call added.
    trajectory = json.loads((log_dir / "trajectory.json").read_text())
    assert validate(trajectory) == [] and trajectory["agent"] == {"name": "openhands", "version": "0.48.0", "model_name": "gpt"}
    agent_steps = [s for s in trajectory["steps"] if s["source"] == "agent"]
    assert [s["tool_calls"][0]["function_name"] for s in agent_steps][-1] == "finish" and len(agent_steps) == 4
    totals = trajectory["final_metrics"]
    assert (totals["total_prompt_tokens"], totals["total_completion_tokens"]) == (record["input_tokens"], record["output_tokens"])
    assert sum(s["metrics"]["prompt_tokens"] for s in agent_steps) == record["input_tokens"]
    assert totals["total_cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-9)
    assert list((log_dir / "completions").glob("*.json"))
    [output] = [json.loads(line) for line in (pytester.path / "reports" / "latest" / "output.jsonl").read_text().splitlines()]
    check_run_infer_tree(pytester.path / "reports" / "latest", record, events, output)
    assert_no_secret(pytester)


def check_run_infer_tree(run: Path, record: dict, events: list, root_line: dict) -> None:
    """outputs/<dataset>-<split>/<AgentClass>/<model>_maxiter_<N>/: OpenHands' files and fields, one by one."""
    folder = run / "outputs" / "examples-swe__swe-bench-test" / "CodeActAgent" / "gpt-4o_maxiter_100"
    [line] = [json.loads(text) for text in (folder / "output.jsonl").read_text().splitlines()]
    assert line == root_line  # the run folder's output.jsonl holds the same lines
    assert list(line) == list(EVAL_OUTPUT_FIELDS)  # OpenHands' EvalOutput, nothing outside it
    assert line["instance_id"] == "ohbench__textkit-2"
    assert line["test_result"] == {"git_patch": record["patch"]} and "-    return text[: width - len(ellipsis) + 1]" in record["patch"]
    assert TRUNCATE_ISSUE in line["instruction"] and line["instruction"] == record["instruction"]
    assert line["history"] == events
    assert line["metrics"]["accumulated_cost"] == pytest.approx(record["cost_usd"])
    assert line["metrics"]["accumulated_token_usage"]["prompt_tokens"] == 5100
    assert line["error"] is None
    rows = [json.loads(text) for text in (EXAMPLES_SWE / "swe-bench.jsonl").read_text().splitlines()]
    assert line["instance"] == next(row for row in rows if row["instance_id"] == "ohbench__textkit-2")
    metadata = json.loads((folder / "metadata.json").read_text())
    assert line["metadata"] == metadata and list(metadata) == list(EVAL_METADATA_FIELDS)
    assert (metadata["agent_class"], metadata["max_iterations"], metadata["dataset"], metadata["data_split"]) == (
        "CodeActAgent", 100, "examples-swe__swe-bench", "test")
    assert metadata["llm_config"]["model"] == "openai/gpt-4o" and metadata["llm_config"]["api_key"] == "**********"
    assert metadata["llm_config"]["input_cost_per_token"] == 0.000001
    assert metadata["agent_config"]["enable_browsing"] is False and metadata["condenser_config"] == {"type": "noop"}
    assert metadata["eval_output_dir"] == str(folder.resolve()) and metadata["start_time"][:4].isdigit()
    completions = sorted((folder / "llm_completions" / "ohbench__textkit-2").glob("*.json"))
    assert len(completions) == 4  # one per LLM call
    log = (folder / "infer_logs" / "instance_ohbench__textkit-2.log").read_text()
    assert "AgentState.FINISHED" in log or "finished" in log.lower()


def test_openhands_that_gives_up_is_unresolved(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    """Also: max_iterations from config.toml's [core], a condenser, and a note in the output folder's name."""
    scripts = [{"match": TRUNCATE_ISSUE, "responses": GIVE_UP_TRUNCATE}]
    result, records = run(pytester, scripts, "-k", "textkit-2", "--openhands-condenser", "recent",
                          "--openhands-eval-note", "retry", core="[core]\nmax_iterations = 9\n\n")
    result.assert_outcomes(failed=1)
    record = records["ohbench__textkit-2"]
    assert record["outcome"] == "unresolved" and record["fail_to_pass"]["failure"]
    assert record["cost_usd"] == pytest.approx(1700 * 0.000001 + 50 * 0.000002, rel=1e-9)
    folder = pytester.path / "reports" / "latest" / "outputs" / "examples-swe__swe-bench-test" / "CodeActAgent"
    metadata = json.loads((folder / "gpt-4o_maxiter_9_N_retry" / "metadata.json").read_text())
    assert metadata["max_iterations"] == 9 and metadata["condenser_config"] == {"type": "recent", "max_events": 40, "keep_first": 1}
    assert_no_secret(pytester)


SOLVE_SHELL = [
    edit("/testbed/calc.sh", "$(($1 - $2))", "$(($1 + $2))", 600, 40),
    call("execute_bash", 700, 20, command="bash tests/run.sh && ! command -v python3"),
    call("finish", 750, 10, message="add adds.", task_completed="true"),
]
# Measures the agent container's own disk (its writable layer) before the harness removes it.
DISK_CONFTEST = """
import json, docker, pytest

@pytest.fixture
def ohbench_runtime(ohbench_runtime, ohbench_log_dir):
    yield ohbench_runtime
    api = docker.APIClient()
    url = api._url("/containers/{0}/json", ohbench_runtime.container.id)
    info = api._result(api._get(url, params={"size": 1}), True)
    (ohbench_log_dir / "container_disk.json").write_text(json.dumps({"size_rw": info.get("SizeRw") or 0}))
"""


def image_ids(client: docker.DockerClient) -> dict[str, list[str]]:
    return {image.id: image.tags for image in client.images.list(all=True)}


def test_openhands_runs_on_an_older_debian_and_on_an_image_without_python(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """Task images from bookworm (Python 3.11) and with no Python at all: the agent's tree is mounted, not built."""
    with_python, without_python = old_debian_images
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {with_python}"))
    make_shell_suite(pytester.path / "suites" / "shell", without_python)
    pytester.makeconftest(DISK_CONFTEST)
    trees_before = {p.name for p in trees_dir().glob("openhands-*") if p.is_dir()}
    images_before = image_ids(docker_client)
    scripts = [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}, {"match": "add 2 3 prints -1", "responses": SOLVE_SHELL}]
    result, records = run(pytester, scripts, "-k", "textkit-2 or shell", "-n", "2")
    result.assert_outcomes(passed=2)
    assert {r["outcome"] for r in records.values()} == {"resolved"}
    # The agent built nothing per task image: new images are the two task images only, and at
    # most one tree (this version's, when no earlier test made it) appeared.
    new_images = {i: tags for i, tags in image_ids(docker_client).items() if i not in images_before}
    assert all(tag.startswith("ohbench-build/") for tags in new_images.values() for tag in tags), new_images
    assert len({p.name for p in trees_dir().glob("openhands-*") if p.is_dir()} - trees_before) <= 1
    for record in records.values():
        version = run_output(docker_client, record["image"], ["sh", "-c", "python3 --version 2>/dev/null || echo none"])
        expected = "none" if record["instance_id"] == "shell__calc-1" else "Python 3.11"
        assert version.decode().startswith(expected)
        disk = json.loads((pytester.path / record["log_dir"] / "container_disk.json").read_text())["size_rw"]
        print(f"{record['instance_id']} on {record['image']}: agent disk {disk / 1e6:.1f} MB (container writable layer), "
              f"agent set-up {record['durations']['agent_image']:.1f} s")
        assert disk < 50e6


def test_the_readme_s_scripted_run_resolves_every_bundled_item(pytester: pytest.Pytester, base_image: str) -> None:
    """`pytest suites/examples -n 2 --llm-config llm.scripted`: OpenHands on every example, as the README shows it."""
    examples = REPO_ROOT / "suites" / "examples"
    shutil.copytree(examples, pytester.path / "suites" / "examples", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    with ScriptedLLMServer(examples / "scripted-llm.yaml") as server:
        # The repository's own config.toml; only the port differs from the README's server.
        config = (REPO_ROOT / "config.toml").read_text()
        assert 'base_url = "http://127.0.0.1:8000/v1"' in config
        (pytester.path / "config.toml").write_text(config.replace("http://127.0.0.1:8000/v1", server.base_url))
        result = pytester.runpytest_subprocess("suites/examples", "-n", "2", "--llm-config", "llm.scripted")
    records = [json.loads(line) for line in (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()]
    collected = pytester.runpytest_subprocess("suites/examples", "--collect-only", "-q").stdout.lines
    assert len(records) == sum("::" in line for line in collected) >= 17
    assert {(r["agent"], r["outcome"]) for r in records} == {("openhands", "resolved")}, [
        (r["instance_id"], r["outcome"], r.get("error")) for r in records if r["outcome"] != "resolved"]
    assert {r["suite"] for r in records} == {
        "examples-swe", "examples-prompts", "examples-gittaskbench", "examples-harbor", "examples-mswe", "examples-perf"}
    result.assert_outcomes(passed=len(records))
