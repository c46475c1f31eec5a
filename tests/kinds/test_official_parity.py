"""`--ohbench-skip-rule official` gives the official swebench package's verdict on the same log.

For every log format the harness parses that the package parses too (pytest's -rA summary,
`go test -v`, `cargo test`, TAP from node and mocha), on real runner output captured once
(tests/data/runner_logs/capture.sh), and for every choice of one test as FAIL_TO_PASS or as
PASS_TO_PASS (and all of them together): the judge's verdict equals the package's
get_eval_tests_report + get_resolution_status over its own parser's reading of the log. The
only differences are the ones docs/grading.md names by design: a FAIL_TO_PASS test that the runner's
report shows skipped or xfailed never passes.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO_ROOT

from pytest_ohbench.kinds.judge.judge import TestRun, judge
from pytest_ohbench.kinds.judge.logparsers import get_parser, parse_pytest_junit

grading = pytest.importorskip("swebench.harness.grading")
LOGS = REPO_ROOT / "tests" / "data" / "runner_logs"


def _pytest_run() -> tuple[TestRun, str]:
    """The judge's run of the captured pytest output: statuses from its JUnit report."""
    text = (LOGS / "pytest-rA-junit.txt").read_text()
    log, _, report = text.partition("\n@@ JUNIT @@\n")
    statuses = parse_pytest_junit(report)
    assert statuses is not None
    return TestRun(statuses, source="junit", output=log), log


def _parsed_run(name: str, parser: str) -> tuple[TestRun, str]:
    log = (LOGS / name).read_text()
    return TestRun(get_parser(parser)(log), source=parser, output=log), log


def _official(module: str, name: str, log: str) -> dict[str, str]:
    import importlib

    return dict(getattr(importlib.import_module(f"swebench.harness.log_parsers.{module}"), name)(log, None))


CASES = {
    "pytest -rA": (_pytest_run, ("python", "parse_log_pytest")),
    "go test -v": (lambda: _parsed_run("go-test-v.txt", "gotest"), ("go", "parse_log_gotest")),
    "cargo test": (lambda: _parsed_run("cargo-test.txt", "cargo"), ("rust", "parse_log_cargo")),
    "node --test tap": (lambda: _parsed_run("node-test-tap.txt", "tap"), ("javascript", "parse_log_tap")),
    "mocha tap": (lambda: _parsed_run("mocha-tap.txt", "tap"), ("javascript", "parse_log_tap")),
}


def _package_resolves(official: dict[str, str], f2p: list[str], p2p: list[str]) -> bool:
    report = grading.get_eval_tests_report(official, {"FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p})
    return grading.get_resolution_status(report) == grading.ResolvedStatus.FULL.value


@pytest.mark.parametrize("case", list(CASES))
def test_official_verdict_equals_the_package_on_real_logs(case: str) -> None:
    make_run, (module, parser) = CASES[case]
    run, log = make_run()
    official = _official(module, parser, log)
    # The package's pytest parser reads `SKIPPED [1] file:line: reason` as a test named `[1]`:
    # no dataset names such a test, so no choice of expected tests holds it.
    tests = sorted(t for t in set(official) | set(run.statuses) if not re.fullmatch(r"\[\d+\]", t))
    assert len(tests) >= 3, tests
    choices = [([t], []) for t in tests] + [([], [t]) for t in tests] + [([], tests), (tests[:1], tests[1:])]
    by_design = []
    for f2p, p2p in choices:
        ours = judge(run, f2p, p2p, "official")
        theirs = _package_resolves(official, f2p, p2p)
        if ours.resolved != theirs:
            # The one difference by design: a FAIL_TO_PASS skip or xfail never passes.
            assert theirs and not ours.resolved and f2p and run.statuses.get(f2p[0]) in ("SKIPPED", "XFAIL"), (f2p, p2p)
            by_design.append(f2p[0])
    if case == "pytest -rA":
        assert by_design == ["test_demo.py::test_known_bug"]  # XFAIL as FAIL_TO_PASS
    # The tests the report and the log both name grade the same way, skipped ones included.
    skipped = [t for t, s in run.statuses.items() if s == "SKIPPED"]
    assert skipped, "every captured log has a skipped test"
    for test in skipped:
        assert judge(run, [], [test], "official").resolved == _package_resolves(official, [], [test])


def test_a_skipped_pass_to_pass_test_fails_where_the_official_parser_names_no_skip() -> None:
    """pytest -rA prints `SKIPPED [1] file:line: reason` (no test id): the package counts the
    test missing, so not resolved; go test -v names it (`--- SKIP: TestSkipped`): resolved."""
    run, _ = _pytest_run()
    assert run.statuses["test_demo.py::test_skipped"] == "SKIPPED"
    assert not judge(run, [], ["test_demo.py::test_skipped"], "official").resolved
    go, _ = _parsed_run("go-test-v.txt", "gotest")
    assert judge(go, [], ["TestSkipped"], "official").resolved
    # strict never passes a skipped PASS_TO_PASS test, whatever the format
    assert not judge(go, [], ["TestSkipped"], "strict").resolved
