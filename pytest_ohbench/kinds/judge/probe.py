"""A pytest plugin loaded into every judged pytest run: where did a skip or xfail come from?

Copied into the container outside the repository and loaded with `-p` (kinds/judge/judge.py).
Standard library and pytest only, old-style hooks and Python 3.5 syntax (no annotations,
no f-strings): task images may hold an old pytest on an old Python.

A test that calls `pytest.skip()` / `pytest.xfail()` (or raises `unittest.SkipTest`) is
reported as skipped or xfailed, and so is a test whose *library code* does it when it sees
the test's data: a wrong fix can hide its failures that way. This plugin names the file
whose code raised the skip (the innermost frame outside pytest and the standard library's
unittest) in a JUnit property, `ohbench_raised_in`; the judge tells a test's own skip
(raised in a test file) from one raised by the code under test. Marker skips and xfails,
and an xfail-marked test that fails on its own, are left alone (nothing is recorded).
"""

import os
import unittest

import pytest

PROPERTY = "ohbench_raised_in"
_SKIPS = (pytest.skip.Exception, pytest.xfail.Exception, unittest.SkipTest)
# Frames of the runner itself, never the code that asked for the skip.
_RUNNER = (os.sep + "_pytest" + os.sep, os.sep + "pytest" + os.sep, os.sep + "pluggy" + os.sep, os.path.dirname(unittest.__file__))


def _raised_in(excinfo):
    """The file of the innermost frame outside the runner, relative to the working directory."""
    for entry in reversed(list(excinfo.traceback)):
        path = str(entry.path)
        if any(part in path for part in _RUNNER):
            continue
        try:
            return os.path.relpath(path)
        except ValueError:
            return path
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Read before the other hooks run: pytest replaces a unittest.SkipTest's excinfo with
    # one of its own skip (raised inside pytest), which would hide where it came from.
    excinfo = call.excinfo
    outcome = yield
    report = outcome.get_result()
    if excinfo is None or not report.skipped or not isinstance(excinfo.value, _SKIPS):
        return
    where = _raised_in(excinfo)
    if where is not None:
        # The item's properties: junitxml writes those of the teardown report, made later.
        item.user_properties.append((PROPERTY, where))
