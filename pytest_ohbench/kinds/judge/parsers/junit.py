"""JUnit XML reports: Maven Surefire/Failsafe, Gradle, the JUnit console launcher, pytest --junitxml.

A report may be one file or several concatenated (`cat target/surefire-reports/*.xml`, or a
run log that prints them): every complete `<testsuites>` / `<testsuite>` element counts, and
an element cut off (a killed run) is left out, so its tests count as missing, never as passed.
Names are `classname.name` (just `name` without a classname), as in kinds/judge/logparsers.py.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from pytest_ohbench.kinds.judge.logparsers import junit_case_status

_BLOCK = re.compile(r"<(testsuites|testsuite)\b.*?</\1\s*>", re.DOTALL)
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")


def _cases(root: ElementTree.Element) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for case in root.iter("testcase"):
        name, classname = case.get("name", ""), case.get("classname", "")
        full = f"{classname}.{name}" if classname else name
        # Surefire's rerunFailingTestsCount writes <flakyFailure>/<flakyError> for a test that
        # passed on a rerun: they are neither <failure> nor <error>, so the test counts as passed
        # (one that failed every rerun keeps its <failure>).
        status = junit_case_status(case)
        # A name reported twice (a parametrized case, a rerun) keeps its worst status.
        if statuses.get(full) not in ("FAILED", "ERROR"):
            statuses[full] = status
    return statuses


def parse_junit_reports(text: str) -> dict[str, str]:
    """Statuses from one or more JUnit XML documents in `text`."""
    body = _DECLARATION.sub("", text)
    statuses: dict[str, str] = {}
    for match in _BLOCK.finditer(body):
        try:
            root = ElementTree.fromstring(match.group(0))
        except ElementTree.ParseError:
            continue  # a broken report has no trustworthy results
        for name, status in _cases(root).items():
            if statuses.get(name) not in ("FAILED", "ERROR"):
                statuses[name] = status
    return statuses
