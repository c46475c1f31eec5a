"""A tiny one-repo SWE suite made on the fly with real git, for edge-case tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The git set-up lives in the package, shared with the perf calibration task.
from pytest_ohbench.tools.testing.gitrepo import DOCKERFILE, diff_for, git

__all__ = ["DOCKERFILE", "ROW", "diff_for", "git", "make_suite"]  # re-exported for the tests that import them from here

BASE_FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_calc.py": (
        "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\n"
        "def test_mul_zero():\n    assert mul(0, 5) == 0\n"
    ),
}
FIXED_CALC = BASE_FILES["calc.py"].replace("a - b", "a + b")
NEW_TESTS = BASE_FILES["tests/test_calc.py"].replace("from calc import mul", "from calc import add, mul") + (
    "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
)
F2P = ["tests/test_calc.py::test_add"]
P2P = ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_mul_zero"]


def make_tiny_suite(root: Path, suite_yaml_extra: str = "", dockerfile: str = DOCKERFILE) -> dict[str, str]:
    """Write the suite under `root`; returns patches: gold, tests, and a few agent variants."""
    repo = root / "repos" / "calc"
    for name, text in BASE_FILES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (root / "Dockerfile").write_text(dockerfile)
    work = root.parent / f".{root.name}-work"
    work.mkdir()
    patches = {
        "gold": diff_for(repo, work / "gold", {"calc.py": FIXED_CALC}),
        "tests": diff_for(repo, work / "tests", {"tests/test_calc.py": NEW_TESTS}),
        "wrong": diff_for(repo, work / "wrong", {"calc.py": BASE_FILES["calc.py"].replace("a - b", "a * b")}),
        # A "fix" that edits the tests instead of the code: the checker must undo it.
        "cheat": diff_for(repo, work / "cheat", {"tests/test_calc.py": NEW_TESTS.replace("== 5", "== -1")}),
    }
    patches["broken"] = patches["gold"].replace("-    return a - b", "-    return a - c")
    base_commit = git(work / "gold", "rev-parse", "HEAD").strip()
    (root / "suite.yaml").write_text(
        "name: tiny\nimage:\n  pull: false\n  dockerfile: Dockerfile\n  context: 'repos/{repo_name}'\n"
        "container:\n  memory: 512m\n" + suite_yaml_extra
    )
    row = {
        "instance_id": "tiny__calc-1",
        "repo": "tiny/calc",
        "base_commit": base_commit,
        "problem_statement": "add(2, 3) returns -1",
        "patch": patches["gold"],
        "test_patch": patches["tests"],
        "FAIL_TO_PASS": json.dumps(F2P),
        "PASS_TO_PASS": json.dumps(P2P),
    }
    (root / "data.jsonl").write_text(json.dumps(row) + "\n")
    return patches


def write_predictions(path: Path, patch: str, instance_id: str = "tiny__calc-1") -> Path:
    path.write_text(json.dumps({"instance_id": instance_id, "model_name_or_path": "t", "model_patch": patch}) + "\n")
    return path


SHELL_FILES = {  # a repository with no Python in it: shell functions and a shell test runner
    "calc.sh": "add() { echo $(($1 - $2)); }\nmul() { echo $(($1 * $2)); }\n",
    "tests/run.sh": (
        ". ./calc.sh\n"
        'check() { if [ "$2" = "$3" ]; then echo "PASSED tests/run.sh::$1"; else echo "FAILED tests/run.sh::$1"; fi; }\n'
        'check test_mul "$(mul 2 3)" 6\n'
    ),
}


def make_shell_suite(root: Path, base_image: str) -> None:
    """A one-row suite whose image needs no Python: `bash tests/run.sh` prints pytest-style statuses."""
    repo = root / "repos" / "shcalc"
    for name, text in SHELL_FILES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (root / "Dockerfile").write_text(DOCKERFILE)
    work = root.parent / f".{root.name}-work"
    work.mkdir()
    new_tests = SHELL_FILES["tests/run.sh"] + 'check test_add "$(add 2 3)" 5\n'
    gold = diff_for(repo, work / "gold", {"calc.sh": SHELL_FILES["calc.sh"].replace("$1 - $2", "$1 + $2")})
    tests = diff_for(repo, work / "tests", {"tests/run.sh": new_tests})
    (root / "suite.yaml").write_text(
        f"name: shell\nimage:\n  pull: false\n  dockerfile: Dockerfile\n  context: 'repos/{{repo_name}}'\n  base: {base_image}\n"
        # Not pytest: its statuses are read from the file the runner writes (pytest's -rA line format).
        "test:\n  command: 'bash tests/run.sh > /tmp/shell-tests.log'\n  report_file: /tmp/shell-tests.log\n"
        "container:\n  memory: 512m\n"
    )
    row = {
        "instance_id": "shell__calc-1", "repo": "shell/shcalc", "base_commit": git(work / "gold", "rev-parse", "HEAD").strip(),
        "problem_statement": "add 2 3 prints -1", "patch": gold, "test_patch": tests,
        "FAIL_TO_PASS": json.dumps(["tests/run.sh::test_add"]), "PASS_TO_PASS": json.dumps(["tests/run.sh::test_mul"]),
    }
    (root / "data.jsonl").write_text(json.dumps(row) + "\n")


# A SWE row that needs no image: for collection and bad-input tests, which never run it.
ROW = {
    "repo": "octo/lib",
    "base_commit": "abc123",
    "problem_statement": "it breaks",
    "patch": "diff --git a/lib.py b/lib.py\n--- a/lib.py\n+++ b/lib.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n",
    "test_patch": "diff --git a/tests/t.py b/tests/t.py\n",
    "FAIL_TO_PASS": ["tests/t.py::test_new"],
    "PASS_TO_PASS": [],
}


def make_suite(pytester: pytest.Pytester, ids: list[str], extra_lines: tuple[str, ...] = (), suite_yaml: str = "name: demo\n") -> Path:
    suite = pytester.mkdir("suite")
    (suite / "suite.yaml").write_text(suite_yaml)
    lines = [json.dumps({**ROW, "instance_id": i}) for i in ids]
    (suite / "data.jsonl").write_text("\n".join([*lines, *extra_lines]) + "\n")
    return suite
