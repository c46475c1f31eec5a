"""The `auto` parser: recognizes the runner from its output and uses that runner's parser.

The fallback for datasets whose repositories have no parser of their own (Multi-SWE-bench
rows without the multi-swe-bench package, user suites): structured reports are tried first,
then the runners' text formats, then pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pytest_ohbench.kinds.judge.logparsers import parse_pytest_log
from pytest_ohbench.kinds.judge.parsers.cargo import parse_cargo_test
from pytest_ohbench.kinds.judge.parsers.gotest import parse_go_test_json, parse_go_test_verbose
from pytest_ohbench.kinds.judge.parsers.js import parse_jest_json, parse_mocha_json, parse_tap
from pytest_ohbench.kinds.judge.parsers.junit import parse_junit_reports

# (a sign the format is there, its parser), most structured first.
_FORMATS: list[tuple[re.Pattern[str], Callable[[str], dict[str, str]], str]] = [
    (re.compile(r'^\s*\{"Time":.*"Action":', re.M), parse_go_test_json, "gotest-json"),
    (re.compile(r"<testsuite\b"), parse_junit_reports, "junit"),
    (re.compile(r'"numTotalTests"'), parse_jest_json, "jest"),
    (re.compile(r'"stats"\s*:\s*\{.*"passes"', re.S), parse_mocha_json, "mocha"),
    (re.compile(r"^\s*--- (PASS|FAIL|SKIP): ", re.M), parse_go_test_verbose, "gotest"),
    (re.compile(r"^test \S.* \.\.\. (ok|FAILED|ignored)", re.M), parse_cargo_test, "cargo"),
    (re.compile(r"^\s*(TAP version \d+|(not )?ok \d+\b)", re.M), parse_tap, "tap"),
]


def detect(text: str) -> str:
    """The name of the first parser whose format appears in `text` and finds tests ("pytest" else)."""
    for sign, parser, name in _FORMATS:
        if sign.search(text) and parser(text):
            return name
    return "pytest"


def parse_auto(text: str) -> dict[str, str]:
    """Statuses from whichever known runner produced `text`."""
    for sign, parser, _ in _FORMATS:
        if sign.search(text):
            statuses = parser(text)
            if statuses:
                return statuses
    return parse_pytest_log(text)
