"""JavaScript runners: TAP (node --test, mocha --reporter tap, tap), Jest and Mocha JSON reports."""

from __future__ import annotations

import json
import re
from typing import Any

# "ok 1 - name # SKIP reason", "not ok 2 - name # TODO"; subtests are indented.
_TAP_LINE = re.compile(r"^(\s*)(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*(?:#\s*(SKIP|TODO)\b.*)?$", re.IGNORECASE)
_SUBTEST = re.compile(r"^(\s*)# Subtest:\s*(.*)$")


def parse_tap(text: str) -> dict[str, str]:
    """Statuses from TAP 13/14 output; nested tests are named `parent > child`.

    A parent whose children were reported is kept too (node's runner reports every
    `describe` as a test of its own); `# SKIP` is SKIPPED and `# TODO` a known failure (XFAIL
    when it fails, as TAP says todo failures are not failures).
    """
    statuses: dict[str, str] = {}
    # The names of the open subtests by indentation, from `# Subtest:` lines.
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if match := _SUBTEST.match(line):
            indent = len(match.group(1))
            stack = [(i, n) for i, n in stack if i < indent]
            stack.append((indent, match.group(2).strip()))
            continue
        match = _TAP_LINE.match(line)
        if not match or not match.group(4):
            continue
        indent = len(match.group(1))
        parents = [n for i, n in stack if i < indent]
        name = " > ".join([*parents, match.group(4)])
        stack = [(i, n) for i, n in stack if i < indent]
        directive = (match.group(5) or "").upper()
        passed = match.group(2).lower() == "ok"
        if directive == "SKIP":
            status = "SKIPPED"
        elif directive == "TODO":
            status = "XPASS" if passed else "XFAIL"
        else:
            status = "PASSED" if passed else "FAILED"
        statuses[name] = status
    return statuses


def _json_document(text: str, key: str) -> Any:
    """The first JSON object in `text` that has `key` (reports often follow other output)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and key in value:
            return value
        start = text.find("{", start + 1)
    return None


_JEST = {"passed": "PASSED", "failed": "FAILED", "pending": "SKIPPED", "skipped": "SKIPPED", "todo": "SKIPPED", "disabled": "SKIPPED"}


def parse_jest_json(text: str) -> dict[str, str]:
    """Statuses from `jest --json` (names: `describe blocks title`, jest's fullName).

    A test file that failed to run (syntax error, missing module) has no assertion results:
    its tests are missing, so they count as failing.
    """
    report = _json_document(text, "testResults")
    statuses: dict[str, str] = {}
    for suite in (report or {}).get("testResults", []):
        for result in suite.get("assertionResults", []):
            name = result.get("fullName") or " ".join([*result.get("ancestorTitles", []), result.get("title", "")])
            statuses[name] = _JEST.get(result.get("status", ""), "FAILED")
    return statuses


def parse_mocha_json(text: str) -> dict[str, str]:
    """Statuses from `mocha --reporter json` (names: mocha's fullTitle)."""
    report = _json_document(text, "stats")
    statuses: dict[str, str] = {}
    if not report:
        return statuses
    for key, status in (("passes", "PASSED"), ("pending", "SKIPPED"), ("failures", "FAILED")):
        for test in report.get(key, []):
            name = test.get("fullTitle") or test.get("title")
            # A hook failure ("before each" hook for ...) is listed under failures too.
            if name:
                statuses[name] = status
    return statuses
