"""Loader for SWE-bench JSONL rows (and the field helpers the Multi-SWE-bench loader shares)."""

from __future__ import annotations

import json
from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.task import PatchTestsSpec, Reference, Task

SWE_BENCH_REQUIRED = (
    "instance_id",
    "repo",
    "base_commit",
    "problem_statement",
    "test_patch",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
)
# Every row field the harness knows: the one list the unknown-field warning checks against.
# The datasets' own columns (read or not: `created_at` is harmless) and the harness's additions.
SWE_BENCH_FIELDS = frozenset({
    "instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
    "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit",
    "difficulty", "image_assets",  # SWE-bench Verified, SWE-bench Multimodal
})
MULTI_SWE_BENCH_FIELDS = frozenset({
    "org", "repo", "number", "state", "title", "body", "base", "base.sha", "resolved_issues", "fix_patch",
    "test_patch", "fixed_tests", "p2p_tests", "f2p_tests", "s2p_tests", "n2p_tests", "run_result",
    "test_patch_result", "fix_patch_result", "instance_id", "hints_text",
    "tag", "number_interval",  # the harness picks a repository's parser by these
})
HARNESS_FIELDS = frozenset({"image", "test_command", "timeout", "parser"})
KNOWN_FIELDS = SWE_BENCH_FIELDS | MULTI_SWE_BENCH_FIELDS | HARNESS_FIELDS


def _test_list(value: Any, where: str, key: str) -> list[str]:
    """A list of test names; SWE-bench stores them as JSON strings, so decode those."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: field '{key}' is not a JSON list: {exc.msg}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{where}: field '{key}' must be a list of test names")
    return value


def _require(row: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row or row[f] is None]
    if missing:
        raise DatasetError(f"{where}: missing required field '{missing[0]}'")


def _require_tests(row: dict[str, Any], key: str, where: str) -> None:
    """Without a FAIL_TO_PASS test any patch would count as resolved: refuse the row."""
    if not _test_names(row[key], where, key):
        raise DatasetError(f"{where}: field '{key}' lists no tests, so nothing can be graded")


def _text(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key) or ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field '{key}' must be a string")
    return value


def _seconds(row: dict[str, Any], key: str, where: str) -> float | None:
    """An optional positive number of seconds (bools are not numbers here)."""
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise DatasetError(f"{where}: field '{key}' must be a number of seconds, got {value!r}")
    return float(value)


def swe_bench_task(row: dict[str, Any], where: str) -> Task:
    """A Task from a SWE-bench row (FAIL_TO_PASS / PASS_TO_PASS as lists or JSON strings)."""
    _require(row, SWE_BENCH_REQUIRED, where)
    _require_tests(row, "FAIL_TO_PASS", where)
    return Task(
        instance_id=str(row["instance_id"]),
        kind="swe",
        prompt=_text(row, "problem_statement", where),
        check=PatchTestsSpec(
            test_patch=_text(row, "test_patch", where),
            fail_to_pass=_test_list(row["FAIL_TO_PASS"], where, "FAIL_TO_PASS"),
            pass_to_pass=_test_list(row["PASS_TO_PASS"], where, "PASS_TO_PASS"),
            test_command=row.get("test_command") or None,
        ),
        reference=Reference(patch=_text(row, "patch", where)),
        repo=_text(row, "repo", where),
        base_commit=_text(row, "base_commit", where),
        hints_text=_text(row, "hints_text", where),
        image=row.get("image") or None,
        timeout=_seconds(row, "timeout", where),
        fields=row,
    )


def _test_names(value: Any, where: str, key: str) -> list[str]:
    """Multi-SWE-bench test maps (name -> statuses) or plain lists, as test names."""
    if isinstance(value, dict):
        return list(value)
    return _test_list(value or [], where, key)
