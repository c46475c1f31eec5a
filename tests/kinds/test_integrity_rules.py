"""The grading-integrity rules as pure functions: infrastructure globs, setting a patch's
files aside, splitting diffs, trusting a report, the skip rules, suite.yaml settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinysuite import BASE_FILES, FIXED_CALC, git

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import load_suite
from pytest_ohbench.kinds.judge.diffs import split_patch, unquote
from pytest_ohbench.kinds.judge.grading import grade
from pytest_ohbench.kinds.judge.integrity import DEFAULT_INFRASTRUCTURE, Infrastructure, set_aside
from pytest_ohbench.kinds.judge.judge import TestRun, exit_problem, judge
from pytest_ohbench.kinds.judge.logparsers import junit_key, parse_pytest_junit


def diff_of(tmp: Path, changes: dict[str, str | None], base: dict[str, str] = BASE_FILES) -> str:
    """A real `git diff --cached` of `changes` (None deletes) over a repo of `base` files."""
    repo = tmp / f"repo{len(list(tmp.iterdir()))}"
    for name, text in base.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    for name, text in changes.items():
        if text is None:
            (repo / name).unlink()
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "--binary")


@pytest.mark.parametrize(
    ("path", "infrastructure"),
    [
        ("conftest.py", True), ("pkg/sub/conftest.py", True), ("tests/helpers.py", True),
        ("src/pkg/tests/data/x.json", True), ("test_repro.py", True), ("pkg/io_test.py", True),
        ("pytest.ini", True), ("tox.ini", True), ("setup.cfg", True), ("pyproject.toml", True),
        ("sitecustomize.py", True), ("lib/usercustomize.py", True), ("x.pth", True),
        ("pkg.egg-info/entry_points.txt", True), ("pkg/__pycache__/mod.cpython-313.pyc", True),
        ("pytest.py", True), ("unittest/__init__.py", True), ("src/_pytest/x.py", True),
        ("calc.py", False), ("pkg/core.py", False), ("setup.py", False), ("README.md", False),
        ("pkg/pytest.py", False), ("docs/conf.py", False), ("contest.py", False),
    ],
)
def test_default_infrastructure(path: str, infrastructure: bool) -> None:
    assert Infrastructure().matches(path) is infrastructure


def test_suites_extend_and_exempt() -> None:
    rules = Infrastructure.for_suite(["fixtures/", "!pyproject.toml"])
    assert rules.matches("fixtures/golden.txt") and not rules.matches("pyproject.toml")
    assert rules.patterns[: len(DEFAULT_INFRASTRUCTURE)] == DEFAULT_INFRASTRUCTURE


def test_set_aside_keeps_the_rest_byte_for_byte(tmp_path: Path) -> None:
    changes: dict[str, str | None] = {
        "calc.py": FIXED_CALC,
        "conftest.py": "import pytest\n",
        # A removed line starting with "--" looks like a header in a plain diff.
        "notes.sql": "-- kept\nselect 1;\n",
        "tests/test_calc.py": None,
    }
    base = {**BASE_FILES, "notes.sql": "-- old\n--- also old\nselect 1;\n"}
    patch = diff_of(tmp_path, changes, base)
    kept, aside = set_aside(patch, Infrastructure())
    assert aside == ["conftest.py", "tests/test_calc.py"]
    expected = diff_of(tmp_path, {k: v for k, v in changes.items() if k in ("calc.py", "notes.sql")}, base)
    assert kept == expected
    assert set_aside(expected, Infrastructure()) == (expected, [])
    assert set_aside(diff_of(tmp_path, {"conftest.py": "x = 1\n"}), Infrastructure()) == ("", ["conftest.py"])


def test_a_rename_out_of_infrastructure_is_set_aside(tmp_path: Path) -> None:
    patch = (
        "diff --git a/tests/test_calc.py b/calc_checks.py\nsimilarity index 100%\n"
        "rename from tests/test_calc.py\nrename to calc_checks.py\n"
    )
    assert set_aside(patch, Infrastructure()) == ("", ["calc_checks.py", "tests/test_calc.py"])


def test_split_plain_unified_diffs_and_odd_names() -> None:
    plain = (
        "Index: calc.py\n--- a/calc.py\t2024-01-01\n+++ b/calc.py\t2024-01-02\n@@ -1,2 +1,2 @@\n"
        "-x\n--- y\n+z\n+++ w\n"
        "diff -u a/conftest.py b/conftest.py\n--- a/conftest.py\n+++ b/conftest.py\n@@ -1 +1 @@\n-a\n+b\n"
    )
    preamble, sections = split_patch(plain)
    assert preamble == "" and [s.path for s in sections] == ["calc.py", "conftest.py"]
    assert "".join(s.text for s in sections) == plain
    assert sections[1].text.startswith("diff -u a/conftest.py")  # its header line travels with it
    binary = (
        'diff --git "a/t\\303\\251st dir/x.bin" "b/t\\303\\251st dir/x.bin"\nnew file mode 100644\n'
        "GIT binary patch\nliteral 3\nKcmZ?wL;wH)0RR91\n\nliteral 0\nHcmV?d00001\n\n"
    )
    [section] = split_patch(binary)[1]
    assert section.old_path is None and section.new_path == "tést dir/x.bin"
    assert unquote('"a\\tb"') == "a\tb"


def test_a_report_is_trusted_only_when_it_agrees_with_the_exit_code() -> None:
    assert exit_problem(0, {"t": "PASSED"}, True) is None
    assert exit_problem(1, {"t": "FAILED"}, True) is None
    assert exit_problem(5, {}, True) is None  # nothing collected: every expected test is missing
    assert exit_problem(1, {"t": "PASSED"}, True) == (
        "pytest exited 1 but its report shows no failure: the report is not trusted"
    )
    assert exit_problem(0, {}, False) == "pytest wrote no JUnit report (exit 0): no test result is trusted"
    # Every runner's exit code is held to its results, not pytest's alone.
    assert exit_problem(2, {"TestA": "PASSED"}, runner="fix-run.sh") == (
        "fix-run.sh exited 2 but its report shows no failure: the report is not trusted"
    )


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1"/>
<testcase classname="tests.test_a.TestK" name="test_m[a.b-1]" file="tests/test_a.py" line="5"/>
<testcase classname="tests.test_a" name="test_x" file="tests/test_a.py"><skipped type="pytest.xfail" message="x"/></testcase>
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py"><error message="failed on teardown"/></testcase>
<testcase classname="tests.test_b.TestChild" name="test_inherited" file="tests/base.py" line="3"/>
</testsuite></testsuites>"""


def test_junit_statuses_by_node_id() -> None:
    expected = ["tests/test_b.py::TestChild::test_inherited", "tests/test_a.py::TestK::test_m[a.b-1]"]
    statuses = parse_pytest_junit(JUNIT, expected)
    assert statuses is not None
    assert statuses["tests/test_a.py::test_ok"] == "ERROR"  # a teardown error wins over the pass
    assert statuses["tests/test_a.py::TestK::test_m[a.b-1]"] == "PASSED"
    assert statuses["tests/test_a.py::test_x"] == "XFAIL"
    # Defined in another file: found through the exact junit name of the expected id.
    assert statuses["tests/test_b.py::TestChild::test_inherited"] == "PASSED"
    assert junit_key("tests/sub/test_c.py::TestA::test_b[x/y::z]") == "tests.sub.test_c.TestA.test_b[x/y::z]"
    assert parse_pytest_junit("<testsuites><testsuite", []) is None
    assert parse_pytest_junit("", []) is None


def test_skip_rules() -> None:
    statuses = {"f": "PASSED", "f_skip": "SKIPPED", "f_xfail": "XFAIL", "p": "PASSED", "p_skip": "SKIPPED",
                "p_xfail": "XFAIL", "p_xpass": "XPASS"}
    strict = grade(statuses, ["f", "f_skip", "f_xfail"], ["p", "p_skip", "p_xfail", "p_xpass"])
    assert strict.skip_rule == "strict"
    assert strict.fail_to_pass["failure"] == ["f_skip", "f_xfail"]
    assert strict.pass_to_pass["failure"] == ["p_skip"]
    verdict = judge(TestRun(statuses), ["f", "f_skip", "f_xfail"], ["p", "p_skip", "p_xfail", "p_xpass"])
    assert verdict.notes == ["a skip or xfail is not a pass: f_skip (SKIPPED), f_xfail (XFAIL), p_skip (SKIPPED)"]
    assert verdict.reason == "skip_not_pass"
    official = grade(statuses, ["f", "f_skip", "f_xfail"], ["p", "p_skip", "p_xfail", "p_xpass", "p_missing"], "official")
    assert official.fail_to_pass["failure"] == ["f_skip", "f_xfail"]  # never a pass for FAIL_TO_PASS
    assert official.pass_to_pass["failure"] == ["p_missing"]
    with pytest.raises(ValueError, match="unknown skip rule 'lenient'"):
        grade(statuses, [], [], "lenient")


def test_suite_yaml_test_settings(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text("test:\n  skipped_p2p: official\n  infrastructure: ['fixtures/', '!setup.cfg']\n")
    suite = load_suite(tmp_path)
    assert suite is not None and suite.test.skipped_p2p == "official"
    assert suite.test.infrastructure == ["fixtures/", "!setup.cfg"]
    (tmp_path / "suite.yaml").write_text("test:\n  skipped_p2p: lenient\n")
    with pytest.raises(DatasetError, match=r"suite.yaml: test.skipped_p2p: expected one of strict, official, got 'lenient'"):
        load_suite(tmp_path)
    (tmp_path / "suite.yaml").write_text("test:\n  infrastructure: fixtures/\n")
    with pytest.raises(DatasetError, match=r"suite.yaml: test.infrastructure: expected a list of"):
        load_suite(tmp_path)
