"""Gate, resume, retries, budget and attempts, through real pytest runs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES_SWE
from tinysuite import make_tiny_suite

INSTANCES = 5


def lines(pytester: pytest.Pytester, run: str) -> list[dict]:
    return [json.loads(line) for line in (pytester.path / "reports" / run / "results.jsonl").read_text().splitlines()]


def test_gate_fails_a_regressed_run_and_passes_a_run_against_itself(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-run-id", "base").assert_outcomes(passed=INSTANCES)
    noop = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-compare", "base",
                                         "--ohbench-compare-fail", "instance", "--ohbench-compare-fail", "resolved_rate:-2%")
    noop.stdout.fnmatch_lines(["*FAIL instance: 5 regressed: ohbench__intervals-1, *", "*FAIL resolved_rate: 100.0% -> 0.0%*"])
    assert noop.ret == pytest.ExitCode.TESTS_FAILED
    again = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-compare",
                                          "--ohbench-compare-fail", "instance", "--ohbench-compare-fail", "cost:+10%", "-n", "2")
    again.stdout.fnmatch_lines(["*compared with *", "*ok   instance: 0 regressed*", "*ok   cost: 0 -> 0*"])
    assert again.ret == pytest.ExitCode.OK
    summary = json.loads((pytester.path / "reports" / "latest" / "summary.json").read_text())
    assert summary["totals"]["resolved"] == INSTANCES


def test_gate_alone_makes_an_all_green_run_exit_non_zero(pytester: pytest.Pytester) -> None:
    suite = pytester.mkdir("suite")
    (suite / "suite.yaml").write_text("name: s\n")
    row = json.loads((EXAMPLES_SWE / "swe-bench.jsonl").read_text().splitlines()[0])
    (suite / "d.jsonl").write_text(json.dumps(row) + "\n")
    baseline = pytester.mkdir("reports") / "fast"
    baseline.mkdir()
    record = {"run_id": "fast", "nodeid": f"suite/d.jsonl::{row['instance_id']}", "instance_id": row["instance_id"],
              "suite": "s", "dataset": "suite/d.jsonl", "outcome": "empty_patch", "durations": {"total": 0.0}}
    (baseline / "results.jsonl").write_text(json.dumps(record) + "\n")
    # noop fails its item anyway, so compare on time only: 0 s before, more now -> +inf%
    result = pytester.runpytest_subprocess("suite", "--agent", "noop", "--ohbench-compare", "fast", "--ohbench-compare-fail", "time:+20%")
    result.stdout.fnmatch_lines(["*FAIL time: 0 -> *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_compare_fail_without_baseline_and_bad_expressions_are_usage_errors(pytester: pytest.Pytester, swe_suite: Path) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-compare-fail", "instance")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ohbench-compare: baseline run 'latest' not found*"])
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-compare-fail", "cost:10%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ohbench-compare-fail: bad gate 'cost:10%'*"])


@contextlib.contextmanager
def builds_broken(suite: Path) -> Iterator[None]:
    """The suite's images cannot be built (a base image that does not exist): a harness error per item."""
    config = suite / "suite.yaml"
    original = config.read_text()
    config.write_text(original.replace("base: ohbench/base:trixie", "base: ohbench-absent/base:none"))
    try:
        yield
    finally:
        config.write_text(original)


def test_resume_reruns_harness_errors_and_keeps_judged_items(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str
) -> None:
    with builds_broken(swe_suite):
        first = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-run-id", "r1", "-k", "not textkit-1",
                                              "--ohbench-preflight", "off")  # a build error per item, not a stop
    first.assert_outcomes(errors=INSTANCES - 1)
    pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-run-id", "r1", "-k", "textkit-1")  # judged
    assert sorted(r["outcome"] for r in lines(pytester, "r1")) == ["build_error"] * (INSTANCES - 1) + ["resolved"]
    resumed = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-resume", "reports/r1", "-n", "2")
    resumed.assert_outcomes(passed=INSTANCES - 1)
    final = lines(pytester, "r1")
    assert len(final) == INSTANCES and {r["outcome"] for r in final} == {"resolved"}
    uninterrupted = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-run-id", "r2")
    uninterrupted.assert_outcomes(passed=INSTANCES)
    comparable = lambda records: sorted((r["nodeid"], r["outcome"], r["patch"], json.dumps(r["tests"])) for r in records)  # noqa: E731
    assert comparable(final) == comparable(lines(pytester, "r2"))
    summary = json.loads((pytester.path / "reports" / "r1" / "summary.json").read_text())
    assert summary["totals"]["resolved"] == INSTANCES


def test_retries_rerun_infrastructure_failures_only(pytester: pytest.Pytester, swe_suite: Path) -> None:
    """A build error with no infrastructure cause (the base image is missing) would only fail
    again: not retried (tests/plugin/test_retries.py has the retried kinds)."""
    with builds_broken(swe_suite):
        result = pytester.runpytest_subprocess("suites", "-k", "textkit-1", "--agent", "oracle", "--ohbench-retries", "2", "--ohbench-run-id", "t",
                                               "--ohbench-preflight", "off")
    result.assert_outcomes(errors=1)
    [record] = lines(pytester, "t")
    assert (record["outcome"], record["failure_class"], record["retries"]) == ("build_error", "", 0)
    result = pytester.runpytest_subprocess("suites", "-k", "textkit-1", "--agent", "noop", "--ohbench-retries", "2", "--ohbench-run-id", "j")
    result.assert_outcomes(failed=1)
    [record] = lines(pytester, "j")
    assert (record["outcome"], record["retries"]) == ("empty_patch", 0)


def test_budget_stops_new_tasks_and_says_why(pytester: pytest.Pytester, swe_suite: Path) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-max-cost", "0", "--ohbench-run-id", "b")
    result.assert_outcomes(skipped=INSTANCES)
    records = lines(pytester, "b")
    assert {r["outcome"] for r in records} == {"not_run"} and len(records) == INSTANCES
    summary = json.loads((pytester.path / "reports" / "b" / "summary.json").read_text())
    assert summary["totals"]["not_run_reasons"] == ["run budget spent: $0.0000 of $0"]


def test_attempts_make_k_items_per_task_and_pass_at_k(pytester: pytest.Pytester, swe_suite: Path) -> None:
    result = pytester.runpytest_subprocess("suites", "-k", "textkit-1", "--agent", "noop", "--ohbench-attempts", "3", "--ohbench-run-id", "k")
    result.assert_outcomes(failed=3)
    assert sorted(r["nodeid"].split("::")[1] for r in lines(pytester, "k")) == [f"ohbench__textkit-1[a{n}]" for n in (1, 2, 3)]
    summary = json.loads((pytester.path / "reports" / "k" / "summary.json").read_text())
    assert summary["totals"]["pass_at_k"] == {"1": 0.0, "2": 0.0, "3": 0.0}
    # OpenHands' tree: one folder per attempt, named as run_infer.sh names its N_RUNS runs.
    agent_folder = pytester.path / "reports" / "k" / "outputs" / "examples-swe__swe-bench-test" / "noop"
    assert sorted(p.name for p in agent_folder.iterdir()) == [f"noop_maxiter_100_N_-run_{n}" for n in (1, 2, 3)]
    for n in (1, 2, 3):
        folder = agent_folder / f"noop_maxiter_100_N_-run_{n}"
        [output] = [json.loads(line) for line in (folder / "output.jsonl").read_text().splitlines()]
        assert output["instance_id"] == "ohbench__textkit-1" and (folder / "llm_completions" / "ohbench__textkit-1").is_dir()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_exports_for_the_official_harness_and_openhands(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    pytester.runpytest_subprocess("suites", "-k", "textkit", "--agent", "oracle", "--ohbench-run-id", "e").assert_outcomes(passed=3)
    run = pytester.path / "reports" / "e"
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    gold = {json.loads(line)["instance_id"]: json.loads(line)["patch"] for line in (EXAMPLES_SWE / "swe-bench.jsonl").read_text().splitlines()}
    assert {p["instance_id"]: p["model_patch"] for p in predictions} == {k: v for k, v in gold.items() if "textkit" in k}
    assert {p["model_name_or_path"] for p in predictions} == {"oracle"}
    output = [json.loads(line) for line in (run / "output.jsonl").read_text().splitlines()]
    assert all(o["test_result"]["git_patch"] == gold[o["instance_id"]] and o["error"] is None for o in output)
    assert all(o["instruction"] and "accumulated_cost" in o["metrics"] for o in output)


def test_run_json_records_the_setup_and_compare_names_unlike_settings(pytester: pytest.Pytester, base_image: str) -> None:
    make_tiny_suite(pytester.mkdir("tiny"))
    first = pytester.runpytest_subprocess("tiny", "--agent", "oracle", "--ohbench-run-id", "one", "--ohbench-max-steps", "5")
    first.assert_outcomes(passed=1)
    info = json.loads((pytester.path / "reports" / "one" / "run.json").read_text())
    assert info["agent"] == "oracle" and info["agent_settings"]["max_steps"] == 5
    [(dataset, digest)] = info["datasets"].items()
    assert dataset.endswith(".jsonl") and len(digest) == 64
    [found] = info["images"].values()
    assert found["id"].startswith("sha256:") and found["source"] in ("build", "cached")
    assert "timeouts" in info["limits"]
    # The same run again: nothing to warn about.
    same = pytester.runpytest_subprocess("tiny", "--agent", "oracle", "--ohbench-max-steps", "5", "--ohbench-compare", "one")
    assert "other settings" not in same.stdout.str()
    # Other settings: the compare says which, and compare.json keeps them.
    other = pytester.runpytest_subprocess("tiny", "--agent", "oracle", "--ohbench-run-id", "two",
                                          "--ohbench-max-steps", "7", "--ohbench-compare", "one")
    other.stdout.fnmatch_lines(["*WARNING: the baseline ran with other settings (1):*",
                                "*agent_settings.max_steps: baseline 5, now 7*"])
    compared = json.loads((pytester.path / "reports" / "two" / "compare.json").read_text())
    assert compared["unlike_settings"] == ["agent_settings.max_steps: baseline 5, now 7"]
