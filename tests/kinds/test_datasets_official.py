"""Real datasets graded as their official harnesses grade them (swebench, multi-swe-bench)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from pytest_ohbench.core.suite import TestSettings as Settings
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.judge.judge import TestRun, judge
from pytest_ohbench.kinds.mswe.loader import multi_swe_bench_task
from pytest_ohbench.kinds.swe.checker import choose_official
from pytest_ohbench.kinds.swe.loader import swe_bench_task
from pytest_ohbench.kinds.swe.official import official_plan

DATA = REPO_ROOT / "tests" / "data" / "swebench"
EXAMPLES_MSWE = REPO_ROOT / "suites" / "examples" / "mswe"
DJANGO_TESTS = [
    "#24377 - Inlines with a model field default should ignore that default",
    "#24377 - If we're adding a new object, a parent's auto-generated pk",
    "If form data is provided, a parent's auto-generated alternate key is",
]
SYMPY_FILE = "sympy/functions/combinatorial/tests/test_comb_factorials.py"


def swe_task(repo: str, version: str, test_file: str, f2p: list[str], p2p: list[str], **extra: Any) -> Task:
    """A SWE-bench row's task, located as the JSONL loader locates it."""
    name = repo.replace("/", "__")
    row = {"instance_id": f"{name}-1", "repo": repo, "version": version, "base_commit": "f" * 40,
           "problem_statement": "x", "test_patch": f"diff --git a/{test_file} b/{test_file}\n",
           "FAIL_TO_PASS": json.dumps(f2p), "PASS_TO_PASS": json.dumps(p2p), **extra}
    task = swe_bench_task(row, f"{name}.jsonl:1")
    task.source_file, task.source_line = f"{name}.jsonl", 1
    return task


def django_task(f2p: list[str], p2p: list[str]) -> Task:
    return swe_task("django/django", "5.0", "tests/model_formsets/test_uuid.py", f2p, p2p)


def assert_graded_as_the_package(task: Task, log: str, tmp_path: Path, resolved: bool) -> dict[str, str]:
    """Our statuses and verdict (skip rule `official`) equal what the swebench package computes."""
    grading = pytest.importorskip("swebench.harness.grading")
    plan = official_plan(task, task.check, "/testbed")
    assert plan is not None and plan.source.startswith("swebench ")
    statuses = plan.parse(log)
    # As the patch check judges it: the official plan's run, read by its parser, graded by the judge.
    ours = judge(TestRun(statuses, source="swebench", output=log), task.check.fail_to_pass, task.check.pass_to_pass,
                 "official", repo=task.repo).grade

    path = tmp_path / "test_output.txt"
    path.write_text(log)
    spec = type("Spec", (), {"repo": task.repo, "version": task.fields["version"], "instance_id": task.instance_id,
                             "FAIL_TO_PASS": task.check.fail_to_pass, "PASS_TO_PASS": task.check.pass_to_pass})()
    official, found = grading.get_logs_eval(spec, str(path))
    assert found and statuses == official
    report = grading.get_eval_tests_report(official, {"FAIL_TO_PASS": task.check.fail_to_pass,
                                                      "PASS_TO_PASS": task.check.pass_to_pass})
    assert ours.resolved == (grading.get_resolution_status(report) == grading.ResolvedStatus.FULL.value) == resolved
    assert ours.fail_to_pass == report["FAIL_TO_PASS"] and ours.pass_to_pass == report["PASS_TO_PASS"]
    return statuses


@pytest.mark.parametrize("broken", [False, True], ids=["gold", "one-test-fails"])
def test_django_log_reads_and_grades_as_the_swebench_package(tmp_path: Path, broken: bool) -> None:
    log = (DATA / "django__django-16950.log").read_text()
    if broken:  # an adversarial run: the F2P test fails
        log = log.replace("auto-generated alternate key is ... ok", "auto-generated alternate key is ... FAIL")
    # As the official eval script prints it: the test command between its markers.
    head, sep, tail = log.partition("+ ./tests/runtests.py")
    log = f"{head}+ : '>>>>> Start Test Output'\n{sep}{tail}".replace(
        "+ git checkout f64fd47", "+ : '>>>>> End Test Output'\n+ git checkout f64fd47", 1)
    task = django_task(DJANGO_TESTS[2:], DJANGO_TESTS[:2])
    plan = official_plan(task, task.check, "/testbed")
    assert plan is not None
    assert "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 model_formsets.test_uuid" in plan.command
    statuses = assert_graded_as_the_package(task, log, tmp_path, resolved=not broken)
    assert len(statuses) == 4


@pytest.mark.parametrize("log", ["gold", "broken"])
def test_sympy_bin_test_log_reads_and_grades_as_the_swebench_package(tmp_path: Path, log: str) -> None:
    """Real `bin/test` output (see tests/data/swebench/SOURCE.md); broken: factorial2 off by one."""
    text = (DATA / f"sympy__test_comb_factorials.{log}.log").read_text()
    task = swe_task("sympy/sympy", "1.12", SYMPY_FILE, ["test_factorial2"],
                    ["test_factorial", "test_binomial", "test_factorial2_rewrite", "test_rf_eval_apply"])
    plan = official_plan(task, task.check, "/testbed")
    assert plan is not None
    assert f"bin/test -C --verbose {SYMPY_FILE}" in plan.command
    statuses = assert_graded_as_the_package(task, text, tmp_path, resolved=log == "gold")
    assert statuses["test_factorial2"] == ("PASSED" if log == "gold" else "FAILED")
    assert statuses["test_binomial"] == "PASSED"


def test_whose_rules_grade_a_row() -> None:
    """The row's command, then suite.yaml's, then the official one; an unknown repo gets none."""
    pytest.importorskip("swebench")
    task = django_task(DJANGO_TESTS[2:], [])
    assert choose_official(task, task.check, Settings(), "/testbed") is not None
    assert choose_official(task, task.check, Settings(given=frozenset({"command"})), "/testbed") is None
    assert choose_official(task, task.check, Settings(given=frozenset({"parser"})), "/testbed") is None
    own = swe_task("django/django", "5.0", "tests/x.py", ["a"], [], test_command="./runtests.py x")
    assert choose_official(own, own.check, Settings(), "/testbed") is None
    unknown = swe_task("acme/widgets", "0.1", "tests/test_x.py", ["a"], [])
    assert choose_official(unknown, unknown.check, Settings(), "/testbed") is None


def test_a_row_needing_the_missing_extra_is_one_line_naming_it() -> None:
    code = (
        "import sys; sys.modules['swebench'] = None\n"
        "from test_datasets_official import django_task\n"
        "from pytest_ohbench.kinds.swe.official import official_plan\n"
        "from pytest_ohbench.core.errors import HarnessError\n"
        "task = django_task(['a'], [])\n"
        "try:\n    official_plan(task, task.check, '/testbed')\nexcept HarnessError as exc:\n    print(exc.message)\n"
    )
    # This module and its helpers (conftest) import as the test run imports them.
    path = os.pathsep.join([str(REPO_ROOT / "tests"), str(Path(__file__).parent)])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": path}).stdout
    assert out.count("\n") == 1
    assert "django__django.jsonl:1: django/django 5.0" in out and "pip install 'pytest-ohbench[swebench]'" in out


def test_collection_names_the_missing_extra_once_and_keeps_the_other_rows(pytester: pytest.Pytester) -> None:
    """Without the package, rows that need it are one collection error; the other rows still run."""
    suite = pytester.mkdir("real")
    (suite / "suite.yaml").write_text("name: real\n")
    rows = [
        {"instance_id": f"django__django-{n}", "repo": "django/django", "version": "5.0", "base_commit": "f" * 40,
         "problem_statement": "x", "test_patch": "", "FAIL_TO_PASS": ["t"], "PASS_TO_PASS": []} for n in (1, 2)
    ]
    rows.append({**rows[0], "instance_id": "acme__widgets-1", "repo": "acme/widgets"})
    del rows[2]["version"]
    (suite / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pytester.makeconftest("import sys\nsys.modules['swebench'] = None  # as if the extra were not installed\n")
    result = pytester.runpytest_subprocess("real", "--collect-only", "-q", "-p", "no:cacheprovider")
    out = result.stdout.str()
    lines = [line for line in out.splitlines() if "pytest-ohbench[swebench]" in line]
    assert lines == [
        "data.jsonl:1: django/django 5.0 and 1 more row(s): graded with the official SWE-bench test command and log "
        "parser, which need the swebench package: pip install 'pytest-ohbench[swebench]' (or set test.command and "
        "test.parser in suite.yaml)"
    ], out
    assert "real/data.jsonl::acme__widgets-1" in out and "::django__django" not in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a collection error, counted as for any bad row


def test_mswe_rule_matches_the_multi_swe_bench_report() -> None:
    """Our verdict equals the package's Report check plus its map checks, on adversarial fix runs."""
    report_mod = pytest.importorskip("multi_swe_bench.harness.report")
    from multi_swe_bench.harness.test_result import TestResult

    from pytest_ohbench.kinds.mswe.checker import STAGE, verdict

    row = json.loads((EXAMPLES_MSWE / "multi-swe-bench.jsonl").read_text().splitlines()[0])
    spec = multi_swe_bench_task(row, "x:1").check
    gold = {name: "PASSED" for name in row["fix_patch_result"]["passed_tests"]}
    runs = {
        "gold": gold,
        "f2p fails": {**gold, "TestCompareMultiDigit": "FAILED"},
        "p2p breaks": {**gold, "TestString": "FAILED"},
        "p2p missing": {k: v for k, v in gold.items() if k != "TestParse"},
        "nothing": {},
    }

    def result(statuses: dict[str, str]) -> TestResult:
        groups = {s: {n for n, v in statuses.items() if STAGE[v] == s} for s in ("PASS", "FAIL", "SKIP")}
        return TestResult(len(groups["PASS"]), len(groups["FAIL"]), len(groups["SKIP"]), groups["PASS"], groups["FAIL"], groups["SKIP"])

    def stored(data: dict) -> TestResult:
        return TestResult.from_dict({k: set(v) if k.endswith("_tests") else v for k, v in data.items()})

    for name, fix in runs.items():
        ours = verdict(spec, fix)
        theirs = report_mod.Report(org=row["org"], repo=row["repo"], number=row["number"],
                                   run_result=stored(row["run_result"]), test_patch_result=stored(row["test_patch_result"]),
                                   fix_patch_result=result(fix)) if fix else None
        official = bool(theirs and theirs.valid and all(
            t in getattr(theirs, key) for key in ("p2p_tests", "f2p_tests", "s2p_tests", "n2p_tests") for t in row[key]))
        assert ours.resolved == official == (name == "gold"), name


def _diff(repo: Path, tmp: Path, edits: dict[str, tuple[str, str]]) -> str:
    """A real `git diff` of `edits` (file -> (old, new) text) on a copy of a bundled repository."""
    work = tmp / repo.name
    shutil.copytree(repo, work)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=work, check=True)
    for name, (old, new) in edits.items():
        text = (work / name).read_text()
        assert old in text, (name, old)
        (work / name).write_text(text.replace(old, new))
    return subprocess.run(["git", "diff"], cwd=work, check=True, capture_output=True, text=True).stdout


@pytest.mark.docker
@pytest.mark.parametrize(("agent", "outcome"), [("oracle", "resolved"), ("noop", "empty_patch"), ("replay", "unresolved")])
def test_bundled_go_and_java_instances(pytester: pytest.Pytester, base_image: str, agent: str, outcome: str) -> None:
    """oracle resolves both, noop neither; replayed adversarial patches neither, test edits set aside."""
    shutil.copytree(EXAMPLES_MSWE, pytester.path / "mswe", ignore=shutil.ignore_patterns("__pycache__"))
    args = ["mswe", "--agent", agent, "-n", "2", "--ohbench-run-id", agent]
    if agent == "replay":
        repos = EXAMPLES_MSWE / "image" / "repos"
        semver_test = (repos / "semver" / "semver_test.go").read_text()
        cheat = semver_test[semver_test.index("func TestCompareSingleDigits"):]
        predictions = {
            # A half fix (majors compared as numbers, the rest dropped) plus deleting the test it breaks.
            "ohbench__semver-1": _diff(repos / "semver", pytester.path, {
                "semver.go": ("a, b := v.String(), w.String()", "a, b := v.Major, w.Major"),
                "semver_test.go": (cheat, ""),
            }),
            # Only the tests edited: the failing ones made to expect the bug.
            "ohbench__csvline-1": _diff(repos / "csvline", pytester.path, {
                "src/test/java/ohbench/csv/CsvLineTest.java": ('List.of("a", "b", "c")', 'List.of("a", "b")'),
            }),
        }
        lines = [json.dumps({"instance_id": k, "model_name_or_path": "adv", "model_patch": v}) for k, v in predictions.items()]
        (pytester.path / "preds.jsonl").write_text("\n".join(lines) + "\n")
        args += ["--ohbench-predictions", "preds.jsonl"]
    result = pytester.runpytest_subprocess(*args)
    records = [json.loads(line) for line in (pytester.path / "reports" / agent / "results.jsonl").read_text().splitlines()]
    assert {r["instance_id"]: r["outcome"] for r in records} == {"ohbench__semver-1": outcome, "ohbench__csvline-1": outcome}
    assert result.ret == (0 if agent == "oracle" else 1)
    if agent == "replay":
        by_id = {r["instance_id"]: r for r in records}
        assert by_id["ohbench__semver-1"]["set_aside"] == ["semver_test.go"]
        assert "TestCompareSingleDigits" in json.dumps(by_id["ohbench__semver-1"])  # the p2p test the half fix broke
        assert by_id["ohbench__csvline-1"]["set_aside"] == ["src/test/java/ohbench/csv/CsvLineTest.java"]
