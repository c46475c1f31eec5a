"""Test-log parsers: turn a test run's output into {test name: status}.

Statuses are PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS. Parsers are pluggable through
the entry-point group `pytest_ohbench.log_parsers`: a callable `(text: str) -> dict`.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "pytest_ohbench.log_parsers"
STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
LogParser = Callable[[str], dict[str, str]]
PROBE_PROPERTY = "ohbench_raised_in"  # kinds/judge/probe.py's JUnit property

_STATUS = "|".join(STATUSES)
# Short test summary (-rA): "FAILED tests/t.py::test_x - AssertionError: ..."
_SUMMARY_LINE = re.compile(rf"^({_STATUS})\s+(\S+?::\S.*?)(?:\s+-\s+.*)?$")
# Verbose progress (-v): "tests/t.py::test_x PASSED  [ 50%]"
_VERBOSE_LINE = re.compile(rf"^(\S+?::\S.*?)\s+({_STATUS})(?:\s+\[\s*\d+%\])?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_pytest_log(text: str) -> dict[str, str]:
    """Statuses from pytest output run with `-rA` (short summary) and/or `-v`.

    The short summary comes last and wins over progress lines: a test that PASSED its call
    but ERRORed in teardown is reported as both, and the error is what counts.
    """
    statuses: dict[str, str] = {}
    summary: dict[str, str] = {}
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).strip()
        if match := _SUMMARY_LINE.match(line):
            status, name = match.groups()
            # Keep an ERROR over a PASSED for the same test (teardown errors).
            if summary.get(name) not in ("ERROR", "FAILED"):
                summary[name] = status
        elif match := _VERBOSE_LINE.match(line):
            name, status = match.groups()
            statuses[name] = status
    statuses.update(summary)
    return statuses


def _junit_cases(text: str) -> list[ElementTree.Element] | None:
    """The <testcase> elements of a JUnit XML report; None when it does not parse."""
    if not text.strip():
        return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None  # a truncated report (killed run) has no trustworthy results
    return list(root.iter("testcase"))


def junit_case_status(case: ElementTree.Element) -> str:
    """A <testcase>'s status: an <error>, <failure> or <skipped> child (an xfail skip), else PASSED."""
    tags = {child.tag for child in case}
    if "error" in tags:
        return "ERROR"
    if "failure" in tags:
        return "FAILED"
    if "skipped" in tags:
        skipped = case.find("skipped")
        is_xfail = skipped is not None and "xfail" in (skipped.get("type", "") + skipped.get("message", ""))
        return "XFAIL" if is_xfail else "SKIPPED"
    return "PASSED"


# A test reported twice (a teardown error after a pass, a rerun) keeps its worst status.
_SEVERITY = {"ERROR": 4, "FAILED": 3, "SKIPPED": 2, "XFAIL": 1, "XPASS": 0, "PASSED": 0}


def _merge(statuses: dict[str, str], name: str, status: str) -> None:
    if _SEVERITY.get(status, 0) >= _SEVERITY.get(statuses.get(name, "PASSED"), 0) or name not in statuses:
        statuses[name] = status


def parse_junit_xml(text: str) -> dict[str, str]:
    """Statuses from a JUnit XML report; names are `classname.name` (or `name`)."""
    statuses: dict[str, str] = {}
    for case in _junit_cases(text) or []:
        name = case.get("name", "")
        classname = case.get("classname", "")
        _merge(statuses, f"{classname}.{name}" if classname else name, junit_case_status(case))
    return statuses


def junit_key(nodeid: str) -> str:
    """The `classname.name` pytest's junitxml writes for a node id (its mangle_test_address)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names)


def _case_nodeid(case: ElementTree.Element) -> str:
    """A node id rebuilt from a testcase: `file` (junit_family=xunit1) plus its classes."""
    name, classname, file = case.get("name", ""), case.get("classname", ""), case.get("file", "")
    module = re.sub(r"\.py$", "", file.replace("/", "."))
    if file.endswith(".py") and (classname == module or classname.startswith(module + ".")):
        classes = classname[len(module) + 1:].split(".") if classname != module else []
        return "::".join([file, *[c for c in classes if c], name])
    return f"{classname}.{name}" if classname else name


@dataclasses.dataclass
class JUnitResults:
    """What pytest's JUnit report says: statuses by node id, and for the tests whose skip or
    xfail the judge's probe traced, the file that raised it (kinds/judge/probe.py)."""

    statuses: dict[str, str]
    raised_in: dict[str, str] = dataclasses.field(default_factory=dict)


def read_pytest_junit(text: str, expected: Iterable[str] = ()) -> JUnitResults | None:
    """Statuses by pytest node id from pytest's own JUnit XML; None when there is no report.

    Each `expected` node id (F2P/P2P) is found by the exact `classname.name` pytest writes
    for it; the other tests get the node id rebuilt from the xunit1 `file` attribute.
    """
    cases = _junit_cases(text)
    if cases is None:
        return None
    by_key: dict[str, str] = {}
    statuses: dict[str, str] = {}
    raised_by_key: dict[str, str] = {}
    raised: dict[str, str] = {}
    for case in cases:
        name, classname = case.get("name", ""), case.get("classname", "")
        key, nodeid = (f"{classname}.{name}" if classname else name), _case_nodeid(case)
        status = junit_case_status(case)
        _merge(by_key, key, status)
        _merge(statuses, nodeid, status)
        where = next((p.get("value", "") for p in case.iter("property") if p.get("name") == PROBE_PROPERTY), None)
        if where is not None:
            raised_by_key[key] = raised[nodeid] = where
    for nodeid in expected:
        key = junit_key(nodeid)
        if key in by_key:
            statuses[nodeid] = by_key[key]
            if key in raised_by_key:
                raised[nodeid] = raised_by_key[key]
    return JUnitResults(statuses, raised)


def parse_pytest_junit(text: str, expected: Iterable[str] = ()) -> dict[str, str] | None:
    """The statuses of `read_pytest_junit`; None when there is no report."""
    results = read_pytest_junit(text, expected)
    return None if results is None else results.statuses


def get_parser(name: str) -> LogParser:
    """The registered parser called `name`; ValueError listing the known ones otherwise."""
    parsers = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in parsers:
        raise ValueError(f"unknown log parser {name!r} (known: {', '.join(sorted(parsers))})")
    return parsers[name].load()
