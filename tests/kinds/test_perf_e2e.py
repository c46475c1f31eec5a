"""Acceptance of perf tasks with real Docker: oracle 10/10, noop none, a broken speedup and a
1.05x speedup unresolved, malformed records reported one line each, the bundled records as
their generator makes them. (benchmarks/perf_noise.py is run and reported, not a test.)"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import docker
import pytest
from conftest import REPO_ROOT

from pytest_ohbench.runtime.docker.runtime import RUN_LABEL
from pytest_ohbench.tools.testing import perf_calibration as calib

pytestmark = pytest.mark.docker
EXAMPLES_PERF = REPO_ROOT / "suites" / "examples" / "perf"
INSTANCES = [json.loads(line)["instance_id"] for line in (EXAMPLES_PERF / "perf.jsonl").read_text().splitlines()]


def make_datasets() -> ModuleType:
    """The bundled suite's generator, for its trap edits (faster, wrong optimizations)."""
    spec = importlib.util.spec_from_file_location("perf_make_datasets", EXAMPLES_PERF / "make_datasets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def perf_suite(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "suites" / "perf"
    shutil.copytree(EXAMPLES_PERF, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    # Its suite.yaml builds with the SWE example's Dockerfile, next to it.
    (target.parent / "swe").mkdir()
    shutil.copy2(EXAMPLES_PERF.parent / "swe" / "Dockerfile", target.parent / "swe" / "Dockerfile")
    return target


@pytest.fixture
def calib_suite(pytester: pytest.Pytester, base_image: str) -> dict[str, str]:
    return calib.write_calibration_suite(pytester.path / "calib", base_image)


def records(pytester: pytest.Pytester, run_id: str) -> list[dict]:
    lines = (pytester.path / "reports" / run_id / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def replay(pytester: pytest.Pytester, patches: dict[str, str]) -> Path:
    path = pytester.path / "preds.jsonl"
    path.write_text("".join(json.dumps({"instance_id": i, "model_name_or_path": "t", "model_patch": p}) + "\n"
                            for i, p in patches.items()))
    return path


def test_oracle_resolves_every_task_ten_times_out_of_ten(
    pytester: pytest.Pytester, perf_suite: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    result = pytester.runpytest_subprocess(
        "suites", "--agent", "oracle", "--ohbench-attempts", "10", "-n", "2", "--ohbench-run-id", "oracle10"
    )
    result.assert_outcomes(passed=10 * len(INSTANCES))
    found = records(pytester, "oracle10")
    assert sorted((r["instance_id"], r["attempt"]) for r in found) == sorted(
        (i, a) for i in INSTANCES for a in range(1, 11)
    )
    for record in found:
        check = record["check"]
        assert (record["outcome"], check["reason"], check["criterion"]) == ("resolved", "resolved", "gso"), check.get("verdict")
        # Every raw timing is kept, for the three states, with the machine it was taken on.
        for test, by_state in check["timings"].items():
            assert {len(v) for v in by_state.values()} == {check["repeats"]}
            assert set(check["raw"][test]["base"]) == {"wall", "cpu", "reported", "reported_cpu", "preempted"}
        assert check["machine"]["cpu_model"] and check["machine"]["cpus"] >= 1 and check["machine"]["load_avg"]
        assert check["numbers"]["human_speedup"] >= 3.0
        # ISO-Bench's LLM-record fields.
        assert check["record_type"] == "human" and check["success"] is True
        assert check["human_reference_commit"] and check["agent_branch"].startswith("ohbench/oracle10/")
    summary = json.loads((pytester.path / "reports" / "oracle10" / "summary.json").read_text())
    perf = summary["perf"]
    assert set(perf["tasks"]) == set(INSTANCES)
    assert all(perf["tasks"][i]["oracle"]["resolved"] == 10 for i in INSTANCES)
    assert perf["models"]["oracle"]["resolved_tasks"] == len(INSTANCES)
    assert 0.8 < perf["comparisons"]["oracle_vs_human"] < 1.25  # the human's own change, timed twice
    # The run folder records the machine; the page shows the speedups per task and model and the comparison.
    run_json = json.loads((pytester.path / "reports" / "oracle10" / "run.json").read_text())
    assert run_json["machine"]["cpu_model"] and run_json["machine"]["cpus"] >= 1
    page = (pytester.path / "reports" / "oracle10" / "report.html").read_text()
    assert page.count("data-who='agent'") == len(INSTANCES) + 1  # a bar per task, one for the model
    assert f"<code>oracle_vs_human: {perf['comparisons']['oracle_vs_human']:.3f}</code>" in page
    assert not docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}=oracle10"})


def test_noop_resolves_none(pytester: pytest.Pytester, perf_suite: Path) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-run-id", "noop")
    result.assert_outcomes(failed=len(INSTANCES))
    assert {r["outcome"] for r in records(pytester, "noop")} == {"empty_patch"}


def test_a_faster_change_that_breaks_a_test_is_unresolved(pytester: pytest.Pytester, perf_suite: Path, base_image: str) -> None:
    tools = make_datasets()
    task = next(t for t in tools.TASKS if t["repo"] == "seqtools")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        tools.history(task, repo)  # base, then the human's commit
        tools.git(repo, "checkout", "-q", "HEAD~1")
        tools.edit(repo, task["traps"])  # unique() via dict.fromkeys: fast, and ignores key=
        # The agent also "fixes" a test that catches it: that edit is put back before judging.
        tests = repo / "tests" / "test_unique.py"
        tests.write_text(tests.read_text().replace('["a", "B", "c"]', '["a", "B", "b", "A", "c"]'))
        patch = tools.git(repo, "diff")
    predictions = replay(pytester, {task["instance_id"]: patch})
    result = pytester.runpytest_subprocess(
        "suites", "-k", "seqtools", "--agent", "replay", "--ohbench-predictions", str(predictions), "--ohbench-run-id", "broken"
    )
    result.assert_outcomes(failed=1)
    (record,) = records(pytester, "broken")
    check = record["check"]
    assert (record["outcome"], check["reason"]) == ("unresolved", "tests_failed")
    assert check["set_aside"] == ["tests/test_unique.py"]
    assert "tests/test_unique.py::test_key_decides_what_repeats" in check["correctness"]["failing"]
    result.stdout.fnmatch_lines(["*ohbench__seqtools-perf-1: unresolved (*correctness test(s) fail*"])


def test_a_105x_speedup_is_not_resolved_under_gso(pytester: pytest.Pytester, calib_suite: dict[str, str]) -> None:
    predictions = replay(pytester, {"ohbench__calib-perf-1": calib_suite["x1.05"]})
    result = pytester.runpytest_subprocess(
        "calib", "--agent", "replay", "--ohbench-predictions", str(predictions), "--ohbench-run-id", "slight"
    )
    result.assert_outcomes(failed=1)
    (record,) = records(pytester, "slight")
    check = record["check"]
    assert (record["outcome"], check["criterion"]) == ("unresolved", "gso")
    assert check["reason"] in ("not_faster", "noisy"), check["verdict"]
    assert check["numbers"]["agent_speedup"] < 1.2
    assert not check["numbers"]["opt_base"]
    assert check["numbers"]["human_speedup"] > 3  # the human's 5x, measured in the same rounds


def test_malformed_records_are_one_line_each_and_the_others_run(
    pytester: pytest.Pytester, calib_suite: dict[str, str]
) -> None:
    good = json.loads(calib_suite["record"])
    no_base = {**good, "instance_id": "bad-no-base"}
    del no_base["base_commit"]
    no_test = {**good, "instance_id": "bad-no-test", "efficiency_test": ["tests/test_nope.py::test_fast"]}
    no_apply = {**good, "instance_id": "bad-patch", "patch": good["patch"].replace("SCALE = 1365", "SCALE = 9999")}
    (pytester.path / "calib" / "perf.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (good, no_base, no_test, no_apply)))
    result = pytester.runpytest_subprocess("calib", "--agent", "oracle", "--ohbench-run-id", "malformed")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines_random([
        "calib/perf.jsonl:2: missing required field 'base_commit'",  # as it opens from where pytest ran
        "*bad-no-test: infra_error: perf.jsonl:3: efficiency test tests/test_nope.py::test_fast does not exist at base_commit*",
        "*bad-patch: infra_error: perf.jsonl:4: the human patch does not apply at base_commit*",
    ])
    outcomes = {r["instance_id"]: r["outcome"] for r in records(pytester, "malformed")}
    assert outcomes == {"ohbench__calib-perf-1": "resolved", "bad-no-test": "infra_error", "bad-patch": "infra_error"}


def test_the_bundled_records_match_their_generator() -> None:
    """Base and head shas, patches and tests as generated; >= 3x human speedups measured
    afresh; correctness tests pass at base and head and catch every trap."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES_PERF / "make_datasets.py"), "--check", "--repeats", "3"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("traps caught by") == len(INSTANCES)


def test_a_human_commit_that_does_not_replay_here_is_flagged_and_left_out_of_rates(
    pytester: pytest.Pytester, perf_suite: Path
) -> None:
    """seqtools' human patch made slower on purpose (a copy of the seen list at every item):
    its replay on this machine is below GSO's 1.2x bar, so the task is `replay_invalid` in the
    record, summary.json and report.html, and left out of the rates; gridpaths still counts."""
    tools = make_datasets()
    task = next(t for t in tools.TASKS if t["repo"] == "seqtools")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        tools.history(task, repo)
        tools.git(repo, "checkout", "-q", "HEAD~1")
        tools.edit(repo, {"seqtools/core.py": [("        if marker not in seen:\n", "        if marker not in list(seen):\n")]})
        slower = tools.git(repo, "diff")
    dataset = perf_suite / "perf.jsonl"
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    for row in rows:
        if row["repo"] == "ohbench/seqtools":
            row["patch"] = slower
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = pytester.runpytest_subprocess("suites", "-k", "seqtools or gridpaths", "--agent", "oracle", "--ohbench-run-id", "replay")
    result.assert_outcomes(passed=1, failed=1)
    found = {r["instance_id"]: r for r in records(pytester, "replay")}
    seqtools, gridpaths = found["ohbench__seqtools-perf-1"], found["ohbench__gridpaths-perf-1"]
    assert seqtools["flags"] == ["replay_invalid"] and gridpaths["flags"] == []
    replay = seqtools["check"]["replay"]
    assert (replay["valid"], replay["reason"], replay["bar"]) == (False, "below_bar", 1.2)
    assert replay["human_speedup"] < 1.2 and gridpaths["check"]["replay"]["valid"]
    # The run folder keeps each task's replay, measured once.
    assert json.loads((pytester.path / "reports" / "replay" / "perf_replay" / "ohbench__seqtools-perf-1.json").read_text())["valid"] is False
    summary = json.loads((pytester.path / "reports" / "replay" / "summary.json").read_text())
    (group,) = summary["groups"]
    assert (group["items"], group["instances"], group["replay_invalid"], group["resolved_rate"]) == (2, 1, 1, 1.0)
    assert summary["perf"]["replay"]["ohbench__seqtools-perf-1"]["valid"] is False
    assert summary["perf"]["tasks"]["ohbench__seqtools-perf-1"]["oracle"]["replay_invalid"] is True
    page = (pytester.path / "reports" / "replay" / "report.html").read_text()
    assert "<b>replay_invalid</b>" in page and "<b class='ohbench-flag'>replay_invalid</b>" in page
    result.stdout.fnmatch_lines(["*1 task(s) whose human commit does not replay here*ohbench__seqtools-perf-1*"])
