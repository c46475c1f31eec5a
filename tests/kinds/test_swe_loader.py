"""Loading SWE-bench and Multi-SWE-bench rows, and the errors bad rows give."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.kinds.rows import load_jsonl

SWE_ROW = {
    "instance_id": "octo__lib-1",
    "repo": "octo/lib",
    "base_commit": "abc123",
    "problem_statement": "it breaks",
    "patch": "diff --git a/x b/x\n",
    "test_patch": "diff --git a/tests/t.py b/tests/t.py\n",
    "FAIL_TO_PASS": json.dumps(["tests/t.py::test_new"]),
    "PASS_TO_PASS": json.dumps(["tests/t.py::test_old"]),
}
MSWE_ROW = {
    "org": "octo",
    "repo": "lib",
    "number": 7,
    "base": {"label": "octo:main", "ref": "main", "sha": "def456"},
    "resolved_issues": [{"number": 6, "title": "Crash", "body": "It crashes on empty input."}],
    "fix_patch": "diff --git a/y b/y\n",
    "test_patch": "diff --git a/tests/u.py b/tests/u.py\n",
    "f2p_tests": {"tests/u.py::test_a": {"run": "FAIL", "test": "FAIL", "fix": "PASS"}},
    "p2p_tests": {"tests/u.py::test_b": {"run": "PASS", "test": "PASS", "fix": "PASS"}},
    "s2p_tests": {},
    "n2p_tests": {"tests/u.py::test_c": {"run": "NONE", "test": "NONE", "fix": "PASS"}},
}


def write_rows(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_swe_bench_row_with_json_string_lists(tmp_path: Path) -> None:
    [task] = load_jsonl(write_rows(tmp_path / "d.jsonl", json.dumps(SWE_ROW)))
    assert task.instance_id == "octo__lib-1"
    assert task.check.fail_to_pass == ["tests/t.py::test_new"]
    assert task.check.pass_to_pass == ["tests/t.py::test_old"]
    assert task.reference.patch.startswith("diff --git")
    assert task.source_line == 1
    assert task.template_fields()["repo_name"] == "lib"


def test_swe_bench_row_with_real_lists(tmp_path: Path) -> None:
    row = {**SWE_ROW, "FAIL_TO_PASS": ["a::b"], "PASS_TO_PASS": []}
    [task] = load_jsonl(write_rows(tmp_path / "d.jsonl", json.dumps(row)))
    assert task.check.fail_to_pass == ["a::b"] and task.check.pass_to_pass == []


def test_multi_swe_bench_row(tmp_path: Path) -> None:
    [task] = load_jsonl(write_rows(tmp_path / "d.jsonl", json.dumps(MSWE_ROW)))
    assert task.instance_id == "octo__lib-7"
    assert task.repo == "octo/lib"
    assert task.base_commit == "def456"
    assert task.kind == "multi-swe"
    assert "It crashes on empty input." in task.prompt
    assert task.check.maps == {"f2p_tests": ["tests/u.py::test_a"], "p2p_tests": ["tests/u.py::test_b"],
                               "s2p_tests": [], "n2p_tests": ["tests/u.py::test_c"]}
    assert task.check.test_result == {"tests/u.py::test_a": "FAIL", "tests/u.py::test_b": "PASS"}
    assert task.image == "mswebench/octo_m_lib:pr-7" and task.workdir == "/home/lib"
    fields = task.template_fields()
    assert (fields["org"], fields["repo_name"], fields["number"]) == ("octo", "lib", 7)


def test_agent_view_hides_the_answers(tmp_path: Path) -> None:
    [task] = load_jsonl(write_rows(tmp_path / "d.jsonl", json.dumps(SWE_ROW)))
    view = json.dumps(dataclasses.asdict(task.view()))
    assert "tests/t.py" not in view and "diff --git" not in view


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "d.jsonl:2: invalid JSON"),
        ("[1, 2]", "d.jsonl:2: expected a JSON object"),
        (json.dumps({k: v for k, v in SWE_ROW.items() if k != "base_commit"} | {"instance_id": "x"}),
         "d.jsonl:2: missing required field 'base_commit'"),
        (json.dumps({**SWE_ROW, "instance_id": "y", "FAIL_TO_PASS": "[oops"}), "d.jsonl:2: field 'FAIL_TO_PASS' is not a JSON list"),
        (json.dumps({**SWE_ROW, "instance_id": "z", "FAIL_TO_PASS": "[]"}), "d.jsonl:2: field 'FAIL_TO_PASS' lists no tests"),
        (json.dumps({k: v for k, v in MSWE_ROW.items() if k != "base"}), "d.jsonl:2: missing required field 'base'"),
        (json.dumps(SWE_ROW), "d.jsonl:2: duplicate instance_id 'octo__lib-1' (first on line 1)"),
    ],
)
def test_bad_rows_name_file_and_line_and_keep_the_rest(tmp_path: Path, line: str, message: str) -> None:
    path = write_rows(tmp_path / "d.jsonl", json.dumps(SWE_ROW), line, "", json.dumps(MSWE_ROW))
    entries = list(load_jsonl(path))
    errors = [e for e in entries if isinstance(e, DatasetError)]
    assert len(errors) == 1 and message in str(errors[0]) and errors[0].line == 2
    assert [e.instance_id for e in entries if not isinstance(e, DatasetError)] == ["octo__lib-1", "octo__lib-7"]
