"""run_batch parity from records (batch_results.jsonl, trajectories/, batch_run.log) and the verdict readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.kinds.prompts.checker import ScriptChecker, is_true
from pytest_ohbench.report.batch import (
    BATCH_FIELDS,
    batch_line,
    batch_status,
    kept_on_resume,
    write_batch_outputs,
)


def record(**changes) -> TaskRecord:
    base = TaskRecord(
        run_id="r", nodeid="prompts/csv_summary.md::csv_summary", instance_id="csv_summary", suite="s",
        dataset="prompts/csv_summary.md", kind="prompt", agent="command", outcome=Outcome.RESOLVED,
        resolved=True, agent_status="finished", agent_return_code=0, agent_stdout="out", agent_stderr="err",
        durations={"agent": 1.234567, "check": 2.0}, cost_usd=0.25, input_tokens=100, output_tokens=20,
        cached_tokens=30, agent_session_id="s-1", started_at="2026-01-02T03:04:05+00:00",
        finished_at="2026-01-02T03:04:09+00:00",
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


@pytest.mark.parametrize(
    "changes, status, code",
    [
        ({}, "success", 0),
        ({"outcome": Outcome.UNRESOLVED, "resolved": False}, "success", 0),  # the agent's status, as run_batch
        ({"agent_status": "failed", "agent_return_code": 2, "outcome": Outcome.UNRESOLVED}, "failed", 2),
        ({"agent_status": "max_steps", "agent_return_code": None}, "failed", 1),
        ({"agent_status": "timeout", "agent_return_code": None, "outcome": Outcome.AGENT_TIMEOUT}, "timeout", -1),
        ({"agent_status": "", "agent_return_code": None, "outcome": Outcome.AGENT_ERROR}, "error", -1),
        ({"agent_status": "finished", "agent_return_code": None}, "success", 0),  # noop, oracle: no process
    ],
)
def test_status_and_return_code(changes: dict, status: str, code: int) -> None:
    line = batch_line(record(**changes), Path("/root"))
    assert (line["status"], line["return_code"]) == (status, code)
    assert batch_status(record(**changes)) == status


def test_a_line_has_every_run_batch_field() -> None:
    line = batch_line(record(), Path("/root"))
    assert set(BATCH_FIELDS) <= set(line)
    assert line["task_name"] == "csv_summary.md" and line["prompt_file"] == "/root/prompts/csv_summary.md"
    assert (line["elapsed_time_seconds"], line["total_cost"], line["total_tokens"]) == (1.23, 0.25, 120)
    assert (line["cache_read_tokens"], line["session_id"], line["stdout"], line["stderr"]) == (30, "s-1", "out", "err")
    assert (line["outcome"], line["resolved"]) == ("resolved", True)


def test_names_of_gittaskbench_and_harbor_tasks() -> None:
    gtb = record(kind="gittaskbench", instance_id="Statkit_01", dataset="b/config/Statkit_01/task_info.yaml")
    assert (batch_line(gtb, Path("/r"))["task_name"], batch_line(gtb, Path("/r"))["prompt_file"]) == (
        "Statkit_01.md", "/r/b/queries/Statkit_01/query.json")
    task = record(kind="harbor", instance_id="fix-median", dataset="h/fix-median/task.toml")
    assert (batch_line(task, Path("/r"))["task_name"], batch_line(task, Path("/r"))["prompt_file"]) == (
        "fix-median", "/r/h/fix-median/instruction.md")


def test_an_error_without_stderr_says_what_went_wrong() -> None:
    line = batch_line(record(outcome=Outcome.INFRA_ERROR, error="docker went away", agent_stderr=""), Path("/r"))
    assert line["stderr"] == "Batch script error during task execution: docker went away"


def test_resume_keeps_successful_batch_tasks_and_judged_swe_items() -> None:
    assert kept_on_resume(record())
    assert kept_on_resume(record(outcome=Outcome.UNRESOLVED))  # the agent succeeded; its check failed
    assert not kept_on_resume(record(agent_status="failed", agent_return_code=1))
    assert not kept_on_resume(record(agent_status="timeout", outcome=Outcome.AGENT_TIMEOUT))
    assert kept_on_resume(record(kind="swe", agent_status="timeout", outcome=Outcome.AGENT_TIMEOUT))
    assert not kept_on_resume(record(kind="swe", outcome=Outcome.INFRA_ERROR))


def test_the_run_folder_files(tmp_path: Path) -> None:
    logs = tmp_path / "reports" / "r" / "logs"
    (logs / "a").mkdir(parents=True)
    (logs / "a" / "trajectory.json").write_text('[{"step": 1}]')
    (logs / "b").mkdir()
    (logs / "b" / "agent.log").write_text("$ my-agent\n(exit 0)\ndone\n")
    records = [
        record(log_dir="reports/r/logs/a"),
        record(nodeid="p/b.md::b", instance_id="b", dataset="p/b.md", agent_session_id="", log_dir="reports/r/logs/b",
               agent_status="failed", agent_return_code=3),
        record(kind="swe", nodeid="d.jsonl::x"),  # not a batch task
        record(nodeid="p/c.md::c", outcome=Outcome.NOT_RUN),  # never ran
    ]
    run_dir = tmp_path / "reports" / "r"
    write_batch_outputs(run_dir, records, tmp_path)
    lines = [json.loads(line) for line in (run_dir / "batch_results.jsonl").read_text().splitlines()]
    assert [(line["task_name"], line["status"]) for line in lines] == [("csv_summary.md", "success"), ("b.md", "failed")]
    assert json.loads((run_dir / "trajectories" / "s-1.json").read_text()) == [{"step": 1}]
    assert json.loads((run_dir / "trajectories" / "b.json").read_text())["log"].endswith("done\n")
    log = (run_dir / "batch_run.log").read_text()
    assert "2026-01-02 03:04:05,000 - INFO - --- Running task: csv_summary.md ---" in log
    assert "--- Finished task: b.md (failed) ---" in log and "Batch processing complete." in log


def test_no_batch_tasks_no_batch_files(tmp_path: Path) -> None:
    write_batch_outputs(tmp_path, [record(kind="swe")], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "names, multi, chosen",
    [
        (["output.csv", "notes.txt"], False, "output.csv"),
        (["output_02.png", "output_01.png"], False, "output_01.png"),
        (["outputs/a.wav", "log.txt"], False, "outputs/a.wav"),
        (["output.csv"], True, "."),
        (["result.csv", "x/output.csv"], False, None),
        ([], False, None),
    ],
)
def test_gittaskbench_output_choice(names: list[str], multi: bool, chosen: str | None) -> None:
    assert ScriptChecker.pick_output(names, multi) == chosen


@pytest.mark.parametrize(
    "reward_json, reward_txt, expected",
    [
        (None, b"1\n", {"reward": 1.0}),
        (None, b"0.5", {"reward": 0.5}),
        (b'{"reward": 0.75, "a": 1, "b": 0.5, "note": "x", "flag": true}', None, {"reward": 0.75, "a": 1.0, "b": 0.5}),
        (b'{"a": 1, "b": 1}', b"0", {"a": 1.0, "b": 1.0, "reward": 0.0}),
        (None, None, "the verifier wrote no reward.txt or reward.json"),
        (None, b"pass", "reward.txt is not a number: 'pass'"),
        (b"[1]", None, "reward.json is not a JSON object"),
    ],
)
def test_harbor_rewards(reward_json, reward_txt, expected) -> None:
    assert ScriptChecker.read_rewards(reward_json, reward_txt) == expected


@pytest.mark.parametrize(
    "rewards, passed",
    [({"reward": 1.0}, True), ({"reward": 0.99}, False), ({"a": 1.0, "b": 1.0}, True), ({"a": 1.0, "b": 0.5}, False),
     ({"reward": 1.0, "a": 0.0}, True)],
)
def test_harbor_pass_rule(rewards: dict, passed: bool) -> None:
    assert ScriptChecker.passed(rewards) is passed


def test_gittaskbench_flags() -> None:
    assert is_true(True) and is_true("True") and not is_true(1) and not is_true("false") and not is_true(None)
