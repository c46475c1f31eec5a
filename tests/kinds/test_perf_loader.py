"""Perf records: loading, one-line errors for bad rows, the generated prompt, suite settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import load_suite
from pytest_ohbench.kinds.perf.loader import PerfSpec, is_test_path, parse_efficiency_test, reveal_reference
from pytest_ohbench.kinds.rows import load_jsonl, task_from_row

EXAMPLES_PERF = REPO_ROOT / "suites" / "examples" / "perf"
ROWS = [json.loads(line) for line in (EXAMPLES_PERF / "perf.jsonl").read_text().splitlines()]


def test_bundled_records_load_as_perf_tasks() -> None:
    tasks = list(load_jsonl(EXAMPLES_PERF / "perf.jsonl"))
    assert len(tasks) >= 3 and all(not isinstance(t, DatasetError) for t in tasks)
    kinds = {t.check.efficiency_tests[0].kind for t in tasks}  # type: ignore[union-attr]
    assert kinds == {"pytest", "script", "command"}
    for task, row in zip(tasks, ROWS, strict=True):
        assert task.kind == "perf" and isinstance(task.check, PerfSpec)
        assert task.reference.patch == row["patch"]  # the oracle submits the human's change
        assert task.check.head_commit == row["head_commit"]
        assert task.location.startswith("perf.jsonl:")


@pytest.mark.parametrize("row", ROWS, ids=[r["instance_id"] for r in ROWS])
def test_the_prompt_never_shows_the_human_change(row: dict) -> None:
    task = task_from_row(row, "perf.jsonl:1")
    prompt = task.prompt
    assert row["head_commit"] not in prompt and row["head_commit"][:7] not in prompt
    assert row["gt_commit_message"].splitlines()[0] not in prompt
    added = [line[1:].strip() for line in row["patch"].splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert not [line for line in added if line and line in prompt], "a line of the human patch leaked"
    assert "All existing tests must pass" in prompt
    for entry in row["efficiency_test"]:  # the test it is judged by is there, whatever its form
        assert entry.strip().splitlines()[-1] in prompt
    for target in row["target_files"]:
        assert f"`{target}`" in prompt
    assert task.view().prompt == prompt


def test_a_suite_may_opt_in_to_naming_the_reference() -> None:
    task = task_from_row(ROWS[0], "perf.jsonl:1")
    revealed = reveal_reference(task)
    assert ROWS[0]["head_commit"] in revealed.prompt
    assert ROWS[0]["gt_commit_message"].splitlines()[0] in revealed.prompt
    assert ROWS[0]["head_commit"] not in task.prompt  # the original is untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_commit": None}, "perf.jsonl:7: missing required field 'base_commit'"),
        ({"efficiency_test": []}, "perf.jsonl:7: field 'efficiency_test' lists no test"),
        ({"efficiency_test": "not a list"}, None),  # a single string is one test
        ({"efficiency_test": ["  "]}, "lists no test (or an empty one)"),
        ({"patch": ""}, "perf.jsonl:7: field 'patch' is empty"),
        ({"duration_changes": {"base": [1]}}, "'duration_changes' must be a list of objects"),
        ({"constraints": [3]}, "'constraints' must be a list of strings"),
        ({"human_performance": "fast"}, "'human_performance' must be a number"),
    ],
)
def test_malformed_records_are_one_line_naming_file_and_row(change: dict, message: str | None) -> None:
    row = {**ROWS[0], **change}
    row = {k: v for k, v in row.items() if v is not None}
    if message is None:
        task = task_from_row(row, "perf.jsonl:7")
        assert [t.spec for t in task.check.efficiency_tests] == ["not a list"]  # type: ignore[attr-defined]
        return
    with pytest.raises(DatasetError) as info:
        task_from_row(row, "perf.jsonl:7")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_one_bad_row_does_not_hide_the_others(tmp_path: Path) -> None:
    bad = {k: v for k, v in ROWS[1].items() if k != "base_commit"}
    dataset = tmp_path / "perf.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in (ROWS[0], bad, ROWS[2])) + "\n")
    loaded = list(load_jsonl(dataset))
    assert [type(t).__name__ for t in loaded] == ["Task", "DatasetError", "Task"]
    assert str(loaded[1]) == f"{dataset}:2: missing required field 'base_commit'"


def test_efficiency_test_forms() -> None:
    script = parse_efficiency_test("import x\nprint(x)\n", 0)
    assert (script.kind, script.name, script.files()) == ("script", "script[0]", [])
    node = parse_efficiency_test("tests/test_perf.py::test_big[10]", 1)
    assert (node.kind, node.files()) == ("pytest", ["tests/test_perf.py"])
    path = parse_efficiency_test("bench/run.py", 2)
    assert (path.kind, path.files()) == ("path", ["bench/run.py"])
    command = parse_efficiency_test("python3 bench/run.py --size 8", 3)
    assert (command.kind, command.files()) == ("command", ["bench/run.py"])


def test_test_paths() -> None:
    for path in ("tests/test_a.py", "pkg/tests/helpers.py", "test_x.py", "pkg/x_test.py", "conftest.py", "pytest.ini"):
        assert is_test_path(path), path
    for path in ("pkg/core.py", "bench/bench_paths.py", "testbed.py", "pkg/contest.py"):
        assert not is_test_path(path), path


def test_suite_perf_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text("perf:\n  criterion: fastest\n")
    with pytest.raises(DatasetError, match=r"suite.yaml: perf\.criterion: must be one of gso, swefficiency, sweperf"):
        load_suite(tmp_path)
    (tmp_path / "suite.yaml").write_text("perf:\n  repeats: 1\n")
    with pytest.raises(DatasetError, match=r"perf\.repeats: must be a whole number >= 2"):
        load_suite(tmp_path)
    (tmp_path / "suite.yaml").write_text("perf:\n  repeats: 5\n  extra_repeats: 0\n")
    with pytest.raises(DatasetError, match=r"perf: at most 5 rounds can never pass the significance guard at alpha 0.01 .*need 7"):
        load_suite(tmp_path)
    (tmp_path / "suite.yaml").write_text("perf:\n  criterion: sweperf\n  target: 0.1\n  clock: wall\n")
    perf = load_suite(tmp_path).section("perf")  # type: ignore[union-attr]
    assert (perf.criterion, perf.target, perf.clock, perf.repeats) == ("sweperf", 0.1, "wall", 7)


def test_options_override_the_suite(pytester: pytest.Pytester) -> None:
    suite = pytester.path / "perf"
    suite.mkdir()
    (suite / "suite.yaml").write_text("perf:\n  criterion: sweperf\n  reveal_reference: true\n")
    (suite / "perf.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    pytester.makeconftest(
        """
        def pytest_collection_modifyitems(items):
            for item in items:
                perf, task = item.ohbench_suite.section("perf"), item.ohbench_task
                shown = "REVEALED" if task.check.head_commit in task.prompt else "HIDDEN"
                print("PERF", perf.criterion, perf.target, perf.repeats, shown)
        """
    )
    result = pytester.runpytest("perf", "--collect-only", "-s", "--ohbench-perf-criterion", "gso",
                                "--ohbench-perf-target", "0.8", "--ohbench-perf-repeats", "6")
    result.stdout.fnmatch_lines(["PERF gso 0.8 6 REVEALED"])
    pytester.makeini("[pytest]\nohbench_perf_criterion = swefficiency\nohbench_perf_repeats = 9\n")
    from_ini = pytester.runpytest("perf", "--collect-only", "-s", "--ohbench-perf-repeats", "8")
    from_ini.stdout.fnmatch_lines(["PERF swefficiency None 8 REVEALED"])  # ini over suite.yaml, option over ini
    (pytester.path / "tox.ini").unlink()
    bad = pytester.runpytest("perf", "--collect-only", "--ohbench-perf-criterion", "fastest")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--ohbench-perf-criterion: expected one of gso, swefficiency, sweperf, got 'fastest'*"])


def test_perf_records_warn_only_about_fields_the_harness_does_not_know(pytester: pytest.Pytester) -> None:
    """ISO-Bench's canonical fields are known to the perf loader (no warning); a typo is named."""
    suite = pytester.path / "perf"
    suite.mkdir()
    (suite / "suite.yaml").write_text("name: perf\n")
    (suite / "perf.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    quiet = pytester.runpytest("perf", "--collect-only", "-W", "error::pytest_ohbench.plugin.collect.OhbenchWarning")
    assert quiet.ret == pytest.ExitCode.OK, quiet.stdout.str()
    (suite / "perf.jsonl").write_text(json.dumps({**ROWS[0], "efficiency_tests": ["x"], "timeout": 90}) + "\n")
    loud = pytester.runpytest("perf", "--collect-only")
    loud.stdout.fnmatch_lines(["*row fields the harness does not read, ignored: 'efficiency_tests' (did you mean 'efficiency_test'?)"])
    assert task_from_row({**ROWS[0], "timeout": 90}, "perf.jsonl:1").timeout == 90.0


# The columns ISO-Bench, GSO and SWE-fficiency publish (their dataset cards and schema), with
# plausible values: a record carrying any of them loads without a warning.
PUBLISHED = {
    # ISO-Bench canonical schema
    "created_at": "2024-05-01T12:00:00Z", "patch_functions": ["lib.fast"], "test_functions": ["tests.test_fast"],
    "problem_statement_oracle": "Speed up fast().", "problem_statement_realistic": "fast() is slow.",
    "version": "python==3.12;arch=x86_64;image=latest;install_sha=0123abcd", "api": "lib.fast",
    "gt_commit_message": "Speed up fast()", "notes": "",
    # GSO
    "opt_commit": "f" * 40, "prob_script": "import lib\nlib.fast()\n", "tests": ["import lib\nlib.fast()\n"],
    "hints_text": "", "gt_diff": "diff --git a/lib.py b/lib.py\n", "arch": "x86_64", "instance_image_tag": "latest",
    # SWE-fficiency
    "problem_statement": "Make fast() faster.", "FAIL_TO_PASS": [], "PASS_TO_PASS": ["tests/test_lib.py::test_fast"],
    "environment_setup_commit": "e" * 40, "workload": "import lib\nlib.fast()\n", "speedup": 1.8,
    "covering_tests": ["tests/test_lib.py"], "test_cmd": "pytest -rA", "rebuild_cmd": "pip install -e .",
    "image_name": "ghcr.io/swefficiency/lib:latest", "single_thread_tests": ["tests/test_lib.py"],
}


def test_a_record_with_every_published_field_loads_silently_and_a_typo_still_warns(pytester: pytest.Pytester) -> None:
    suite = pytester.path / "perf"
    suite.mkdir()
    (suite / "suite.yaml").write_text("name: perf\n")
    (suite / "perf.jsonl").write_text(json.dumps({**ROWS[0], **PUBLISHED, "target_files": ["lib.py"]}) + "\n")
    quiet = pytester.runpytest("perf", "--collect-only", "-W", "error::pytest_ohbench.plugin.collect.OhbenchWarning")
    assert quiet.ret == pytest.ExitCode.OK, quiet.stdout.str()
    assert "OhbenchWarning" not in quiet.stdout.str()
    (suite / "perf.jsonl").write_text(json.dumps({**ROWS[0], **PUBLISHED, "human_perfomance": 2.0}) + "\n")
    loud = pytester.runpytest("perf", "--collect-only")
    loud.stdout.fnmatch_lines([
        "*row fields the harness does not read, ignored: 'human_perfomance' (did you mean 'human_performance'?)"
    ])
