"""Several agents in one run (`--agent a --agent b`): items per agent, one comparison table
in the terminal, summary.json and report.html whose numbers are the records', and resume,
the gate and xdist with two agents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES_SWE

from pytest_ohbench.agents.trajectory import validate
from pytest_ohbench.report.crashes import crash_record
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.docker
INSTANCES = sorted(json.loads(line)["instance_id"] for line in (EXAMPLES_SWE / "swe-bench.jsonl").read_text().splitlines())
AGENTS = ("oracle", "noop")
TRUNCATE_ISSUE = "truncate returns one character too many"


def call(name: str, prompt: int, completion: int, **arguments: Any) -> dict[str, Any]:
    return {"content": f"calling {name}", "tool_calls": [{"name": name, "arguments": arguments}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


# One script per agent for the same task, told apart by the tools each offers: mini fixes
# and submits; OpenHands looks and gives up.
MINI_SOLVES = [
    call("bash", 1000, 50, command="sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py"),
    call("bash", 1200, 30, command="echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"),
]
OPENHANDS_GIVES_UP = [
    call("execute_bash", 800, 40, command="cat textkit/wrap.py"),
    call("finish", 900, 10, message="I could not fix it.", task_completed="false"),
]


def lines(pytester: pytest.Pytester, run_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (pytester.path / "reports" / run_id / "results.jsonl").read_text().splitlines()]


def test_two_agents_give_items_per_agent_and_one_comparison_table(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str
) -> None:
    result = pytester.runpytest_subprocess(
        "suites", "--agent", "oracle", "--agent", "noop", "--ohbench-run-id", "two", "-n", "2", "--html", "pytest-html.html")
    result.assert_outcomes(passed=len(INSTANCES), failed=len(INSTANCES))
    records = lines(pytester, "two")
    names = sorted(r["nodeid"].split("::")[1] for r in records)
    assert names == sorted(f"{i}[{a}]" for i in INSTANCES for a in AGENTS)
    assert all(r["agent"] == r["nodeid"].split("[")[1].rstrip("]") for r in records)
    assert {r["outcome"] for r in records if r["agent"] == "oracle"} == {"resolved"}
    assert {r["outcome"] for r in records if r["agent"] == "noop"} == {"empty_patch"}

    section = json.loads((pytester.path / "reports" / "two" / "summary.json").read_text())["agents"]
    for agent in AGENTS:
        own = [r for r in records if r["agent"] == agent]
        row = section["by_agent"][agent]
        assert (row["instances"], row["resolved_instances"]) == (len(INSTANCES), sum(r["resolved"] for r in own))
        assert row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in own))
        assert row["input_tokens"] == sum(r["input_tokens"] for r in own)
        assert row["item_seconds"] == pytest.approx(sum(r["durations"]["total"] for r in own), abs=1e-3)
        assert row["agent_seconds"] == pytest.approx(sum(r["durations"].get("agent", 0.0) for r in own), abs=1e-3)
    assert [(i["instance_id"], i["resolved_by"], i["outcomes"]) for i in section["instances"]] == [
        (i, ["oracle"], {"noop": "empty_patch", "oracle": "resolved"}) for i in INSTANCES
    ]
    assert (section["resolved_by_all"], section["resolved_by_none"]) == (0, 0)
    assert section["resolved_only_by"] == {"noop": 0, "oracle": len(INSTANCES)}

    # The terminal's table says the same.
    out = result.stdout.str()
    assert "agents compared:" in out
    assert re.search(rf"^\s+oracle\s+{len(INSTANCES)}\s+{len(INSTANCES)}\s+100\.0%", out, re.M)
    assert re.search(rf"^\s+noop\s+{len(INSTANCES)}\s+0\s+0\.0%", out, re.M)
    assert f"by one alone: noop 0, oracle {len(INSTANCES)}" in out
    # And the page: the agents' table, and the matrix with a column per agent.
    page = (pytester.path / "reports" / "two" / "report.html").read_text()
    table = page[page.index("<table id='ohbench-agents'"):]
    table = table[: table.index("</table>")]
    assert f"<td>oracle</td><td class='num'>{len(INSTANCES)} / {len(INSTANCES)}</td>" in table
    assert f"<td>noop</td><td class='num'>0 / {len(INSTANCES)}</td>" in table
    assert "<th>- / noop</th><th>- / oracle</th>" in page
    # pytest-html's page (--html) too has a column per agent.
    assert "<th>- / noop</th><th>- / oracle</th>" in (pytester.path / "pytest-html.html").read_text()

    # -k picks one agent's items.
    picked = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--agent", "noop", "--collect-only", "-q", "-k", "noop")
    assert sorted(line.split("::")[1] for line in picked.stdout.lines if "::" in line) == sorted(f"{i}[noop]" for i in INSTANCES)

    # The gate matches each agent's records with its own: against itself, nothing flips.
    gated = pytester.runpytest_subprocess(
        "suites", "--agent", "oracle", "--agent", "noop", "-k", "textkit", "--ohbench-run-id", "again",
        "--ohbench-compare", "reports/two", "--ohbench-compare-fail", "instance", "--ohbench-compare-fail", "resolved_rate:-1%",
    )
    compare = json.loads((pytester.path / "reports" / "again" / "compare.json").read_text())
    assert not compare["failed"] and [g["passed"] for g in compare["gates"]] == [True, True]
    assert (compare["lost"], compare["gained"]) == (0, 0)
    textkit = sorted(i for i in INSTANCES if i.startswith("ohbench__textkit"))
    assert compare["matched"] == 2 * len(textkit)
    assert gated.ret == pytest.ExitCode.TESTS_FAILED  # noop's items fail; the gate does not


def test_resume_with_two_agents_runs_only_the_missing_agents_items(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    first = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--agent", "noop", "-k", "oracle", "--ohbench-run-id", "r")
    first.assert_outcomes(passed=len(INSTANCES))
    resumed = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--agent", "noop", "--ohbench-resume", "reports/r")
    resumed.assert_outcomes(failed=len(INSTANCES))  # only noop's items ran
    final = lines(pytester, "r")
    assert sorted((r["agent"], r["outcome"]) for r in final) == sorted(
        [("noop", "empty_patch")] * len(INSTANCES) + [("oracle", "resolved")] * len(INSTANCES))
    summary = json.loads((pytester.path / "reports" / "r" / "summary.json").read_text())
    assert summary["agents"]["resolved_only_by"]["oracle"] == len(INSTANCES)


def test_a_crashed_items_record_names_its_agent_and_model(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    for name, agent, model, attempt in (
        ("t-1[openhands-sdk-gpt-a2]", "openhands-sdk", "gpt", 2),
        ("t-1[openhands-gpt]", "openhands", "gpt", 1),
        ("t-1[openhands]", "openhands", None, 1),
    ):
        agents = ["openhands", "openhands-sdk"]
        record = crash_record(f"s/d.jsonl::{name}", None, "r", agents, ["gpt", "claude"] if model else [], tmp_path, "worker crashed")
        assert (record.instance_id, record.agent, record.model, record.attempt) == ("t-1", agent, model, attempt)


def test_mini_against_openhands_on_a_scripted_model(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    scripts = [{"match": TRUNCATE_ISSUE, "tools": ["bash"], "responses": MINI_SOLVES},
               {"match": TRUNCATE_ISSUE, "tools": ["execute_bash"], "responses": OPENHANDS_GIVES_UP}]
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm]\nbase_url = "{server.base_url}"\napi_key = "k"\nnum_retries = 0\n\n[llm.gpt]\nmodel = "openai/gpt-4o"\n'
            "input_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n")
        selection = ("suites", "-k", "textkit-2", "--agent", "mini", "--agent", "openhands", "--llm-config", "gpt", "-n", "2")
        result = pytester.runpytest_subprocess(*selection, "--ohbench-run-id", "m", "--ohbench-llm-record")
    result.assert_outcomes(passed=1, failed=1)
    records = {r["agent"]: r for r in lines(pytester, "m")}
    mini, openhands = records["mini"], records["openhands"]
    assert (mini["outcome"], openhands["outcome"]) == ("resolved", "empty_patch")
    assert (mini["input_tokens"], mini["output_tokens"], openhands["input_tokens"], openhands["output_tokens"]) == (2200, 80, 1700, 50)
    # Each agent's trajectory in the one format, its tokens the gateway's.
    for record in (mini, openhands):
        trajectory = json.loads((pytester.path / record["log_dir"] / "trajectory.json").read_text())
        assert validate(trajectory) == [] and trajectory["agent"]["name"] == record["agent"]
        assert trajectory["final_metrics"]["total_prompt_tokens"] == record["input_tokens"]
        assert trajectory["final_metrics"]["total_cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-9)
    section = json.loads((pytester.path / "reports" / "m" / "summary.json").read_text())["agents"]
    assert section["resolved_only_by"] == {"mini": 1, "openhands": 0}
    assert section["by_agent"]["openhands"]["cost_usd"] == pytest.approx(openhands["cost_usd"])
    assert section["by_agent"]["mini"]["cost_usd"] == pytest.approx(2200 * 0.000001 + 80 * 0.000002)

    # Each agent's exchanges are recorded apart, and replay (no server) gives each its own.
    cassettes = sorted(p.name for p in (pytester.path / "reports" / "m" / "cassettes").rglob("*.jsonl"))
    assert cassettes == ["gpt-mini-a1.jsonl", "gpt-openhands-a1.jsonl"]
    replayed = pytester.runpytest_subprocess(*selection, "--ohbench-run-id", "r", "--ohbench-llm-replay", "m")
    replayed.assert_outcomes(passed=1, failed=1)
    again = {r["agent"]: r for r in lines(pytester, "r")}
    assert {a: (r["outcome"], r["input_tokens"], r["llm"]["replayed"]) for a, r in again.items()} == {
        "mini": ("resolved", 2200, True), "openhands": ("empty_patch", 1700, True)}
