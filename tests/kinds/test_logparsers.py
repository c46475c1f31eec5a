"""Test-log parsers: pytest -rA / -v output and JUnit XML."""

from __future__ import annotations

import pytest

from pytest_ohbench.kinds.judge.grading import grade
from pytest_ohbench.kinds.judge.logparsers import get_parser, parse_junit_xml, parse_pytest_log

PYTEST_LOG = """\
============================= test session starts ==============================
tests/test_a.py::test_ok PASSED                                          [ 20%]
tests/test_a.py::test_bad FAILED                                         [ 40%]
tests/test_a.py::test_param[a b-1] PASSED                                [ 60%]
=========================== short test summary info ============================
PASSED tests/test_a.py::test_ok
PASSED tests/test_a.py::test_param[a b-1]
PASSED tests/test_a.py::test_teardown_breaks
FAILED tests/test_a.py::test_bad - AssertionError: assert 1 == 2
ERROR tests/test_a.py::test_teardown_breaks - RuntimeError: boom
XFAIL tests/test_a.py::test_known - reason: later
SKIPPED [1] tests/test_a.py:40: no network
\x1b[31mFAILED\x1b[0m tests/test_b.py::test_color - assert False
=================== 2 failed, 3 passed, 1 error in 0.10s ===================
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.test_a" name="test_ok" time="0.001"/>
<testcase classname="tests.test_a" name="test_bad"><failure message="assert 1 == 2">x</failure></testcase>
<testcase classname="tests.test_a" name="test_err"><error message="boom"/></testcase>
<testcase classname="tests.test_a" name="test_skip"><skipped type="pytest.skip" message="no"/></testcase>
<testcase classname="tests.test_a" name="test_xfail"><skipped type="pytest.xfail" message="later"/></testcase>
</testsuite></testsuites>
"""


def test_pytest_log_statuses() -> None:
    statuses = parse_pytest_log(PYTEST_LOG)
    assert statuses["tests/test_a.py::test_ok"] == "PASSED"
    assert statuses["tests/test_a.py::test_bad"] == "FAILED"
    assert statuses["tests/test_a.py::test_param[a b-1]"] == "PASSED"
    assert statuses["tests/test_a.py::test_teardown_breaks"] == "ERROR"  # error wins over pass
    assert statuses["tests/test_a.py::test_known"] == "XFAIL"
    assert statuses["tests/test_b.py::test_color"] == "FAILED"  # ANSI colors stripped
    assert not any("test_a.py:40" in name for name in statuses)


def test_junit_statuses() -> None:
    assert parse_junit_xml(JUNIT) == {
        "tests.test_a.test_ok": "PASSED",
        "tests.test_a.test_bad": "FAILED",
        "tests.test_a.test_err": "ERROR",
        "tests.test_a.test_skip": "SKIPPED",
        "tests.test_a.test_xfail": "XFAIL",
    }


def test_truncated_junit_gives_no_results() -> None:
    assert parse_junit_xml(JUNIT[: len(JUNIT) // 2]) == {}


# Maven Surefire with rerunFailingTestsCount=2: a test that passed on a rerun carries
# <flakyFailure>/<flakyError>; one that failed every run keeps <failure> plus <rerunFailure>.
SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="demo.DemoTest" tests="4" failures="1" flakes="2">
<testcase name="steady" classname="demo.DemoTest" time="0.01"/>
<testcase name="flaky" classname="demo.DemoTest"><flakyFailure message="once" type="java.lang.AssertionError"/></testcase>
<testcase name="flakyError" classname="demo.DemoTest"><flakyError message="once" type="java.io.IOException"/></testcase>
<testcase name="broken" classname="demo.DemoTest"><failure message="always"/><rerunFailure message="always"/></testcase>
</testsuite>
"""


def test_surefire_flaky_reruns_count_as_passed() -> None:
    expected = {"demo.DemoTest.steady": "PASSED", "demo.DemoTest.flaky": "PASSED",
                "demo.DemoTest.flakyError": "PASSED", "demo.DemoTest.broken": "FAILED"}
    assert get_parser("junit")(SUREFIRE) == expected
    assert parse_junit_xml(SUREFIRE) == expected  # both JUnit readers judge a case alike


def test_parsers_come_from_the_registry() -> None:
    assert get_parser("pytest") is parse_pytest_log
    assert get_parser("junit")(JUNIT) == parse_junit_xml(JUNIT)  # the multi-report parser agrees on one report
    with pytest.raises(ValueError, match=r"unknown log parser 'nose'.*junit, mocha, pytest"):
        get_parser("nose")


def test_grade_follows_swe_bench_rules() -> None:
    statuses = parse_pytest_log(PYTEST_LOG)
    resolved = grade(statuses, ["tests/test_a.py::test_ok"], ["tests/test_a.py::test_known"])
    assert resolved.resolved  # an XFAIL PASS_TO_PASS test counts as passing, as in SWE-bench
    missing = grade(statuses, ["tests/test_a.py::test_ok"], ["tests/test_a.py::test_absent"])
    assert not missing.resolved and missing.pass_to_pass["failure"] == ["tests/test_a.py::test_absent"]
    failing = grade(statuses, ["tests/test_a.py::test_bad"], ["tests/test_a.py::test_ok"])
    assert failing.fail_to_pass == {"success": [], "failure": ["tests/test_a.py::test_bad"]}
    assert failing.pass_to_pass == {"success": ["tests/test_a.py::test_ok"], "failure": []}
