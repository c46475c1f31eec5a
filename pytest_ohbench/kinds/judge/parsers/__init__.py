"""Structured test-report parsers for other languages' runners (entry points in pyproject.toml).

Each parser is `(text: str) -> {test name: status}` with the statuses of kinds/judge/logparsers.py
(PASSED, FAILED, ERROR, SKIPPED, XFAIL). They read the runner's structured report where
there is one (go test -json, JUnit XML, jest/mocha JSON, TAP) and its plain output otherwise.
"""
