"""Loader for Multi-SWE-bench rows (org/repo/number/base.sha/fix_patch/test_patch/*_tests maps).

A row becomes a task run the way the Multi-SWE-bench harness runs it: in the instance's
image (`mswebench/<org>_m_<repo>:pr-<number>`), with the repository at `/home/<repo>`, and
graded by `/home/fix-run.sh` (kinds/mswe/checker.py). Its check spec keeps the four test maps and
the statuses the dataset recorded for the run and test-patch runs, which its resolved rule
compares against.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.task import PREFIXED_IMAGE_NAMESPACE, CheckSpec, Reference, Task
from pytest_ohbench.kinds.swe.loader import _require, _require_tests, _seconds, _test_names, _text

MULTI_SWE_REQUIRED = ("org", "repo", "number", "base", "test_patch", "f2p_tests")
IMAGE_NAMESPACE = PREFIXED_IMAGE_NAMESPACE  # the harness's default; --ohbench-image-prefix replaces it
# The stage statuses of the harness's test_result.TestStatus (maps store these).
STAGE_STATUSES = ("PASS", "FAIL", "SKIP", "NONE")
# Expected status in the test-patch run of each map's tests: f2p failed, s2p skipped, ...
MAP_TEST_STATUS = {"f2p_tests": "FAIL", "p2p_tests": "PASS", "s2p_tests": "SKIP", "n2p_tests": "NONE"}


@dataclasses.dataclass
class MultiSweSpec(CheckSpec):
    """How the Multi-SWE-bench harness judges a fix: fix-run.sh, a parser, the four maps."""

    org: str
    repo: str
    number: int
    test_patch: str
    # map name ("f2p_tests", ...) -> test names; each must PASS in the fix run.
    maps: dict[str, list[str]]
    # The dataset's statuses (PASS/FAIL/SKIP) of the run.sh and test-run.sh runs, for the
    # rule's "no new failure" and "no anomaly" checks; tests absent are NONE.
    run_result: dict[str, str]
    test_result: dict[str, str]
    parser: str | None = None  # the row's own log parser (a pytest_ohbench.log_parsers name)
    fix_command: str = "bash /home/fix-run.sh"

    @property
    def repo_dir(self) -> str:
        return f"/home/{self.repo}"


def image_name(org: str, repo: str, number: Any, namespace: str = IMAGE_NAMESPACE) -> str:
    """The harness's instance image name (lower case, as Docker requires)."""
    return f"{namespace.rstrip('/')}/{org}_m_{repo}:pr-{number}".lower()


def _stage_statuses(row: dict[str, Any], key: str, stage: str, where: str) -> dict[str, str]:
    """A stage's statuses: the row's `<key>` TestResult, else each map entry's `<stage>` status."""
    result = row.get(key)
    statuses: dict[str, str] = {}
    if isinstance(result, dict):
        for field, status in (("passed_tests", "PASS"), ("failed_tests", "FAIL"), ("skipped_tests", "SKIP")):
            for name in result.get(field) or []:
                statuses[str(name)] = status
        return statuses
    for map_name, expected in MAP_TEST_STATUS.items():
        value = row.get(map_name)
        if isinstance(value, dict):
            for name, entry in value.items():
                recorded = entry.get(stage) if isinstance(entry, dict) else None
                if recorded is not None and recorded not in STAGE_STATUSES:
                    raise DatasetError(f"{where}: field '{map_name}.{name}.{stage}' must be one of {', '.join(STAGE_STATUSES)}")
                statuses[name] = str(recorded or (expected if stage == "test" else "NONE"))
        elif stage == "test":
            for name in _test_names(value or [], where, map_name):
                statuses[name] = expected
    return {name: status for name, status in statuses.items() if status != "NONE"}


def _problem(row: dict[str, Any]) -> str:
    issues = row.get("resolved_issues") or []
    parts = [
        f"{issue.get('title', '')}\n\n{issue.get('body') or ''}".strip() for issue in issues if isinstance(issue, dict)
    ]
    if not parts:
        parts = [f"{row.get('title', '')}\n\n{row.get('body') or ''}".strip()]
    return "\n\n".join(p for p in parts if p)


def multi_swe_bench_task(row: dict[str, Any], where: str) -> Task:
    """A Task from a Multi-SWE-bench row."""
    if "base.sha" in row and "base" not in row:
        row = {**row, "base": {"sha": row["base.sha"]}}
    _require(row, MULTI_SWE_REQUIRED, where)
    _require_tests(row, "f2p_tests", where)
    base = row["base"]
    if not isinstance(base, dict) or not isinstance(base.get("sha"), str):
        raise DatasetError(f"{where}: missing required field 'base.sha'")
    org, name, number = str(row["org"]), str(row["repo"]), row["number"]
    problem = _problem(row)
    if not problem:
        raise DatasetError(f"{where}: missing required field 'resolved_issues' (no problem statement)")
    parser = row.get("parser")
    if parser is not None and not isinstance(parser, str):
        raise DatasetError(f"{where}: field 'parser' must be a log parser name")
    spec = MultiSweSpec(
        org=org,
        repo=name,
        number=int(number),
        test_patch=_text(row, "test_patch", where),
        maps={key: _test_names(row.get(key) or [], where, key) for key in MAP_TEST_STATUS},
        run_result=_stage_statuses(row, "run_result", "run", where),
        test_result=_stage_statuses(row, "test_patch_result", "test", where),
        parser=parser,
    )
    return Task(
        instance_id=str(row.get("instance_id") or f"{org}__{name}-{number}"),
        kind="multi-swe",
        prompt=problem,
        check=spec,
        reference=Reference(patch=_text(row, "fix_patch", where)),
        repo=f"{org}/{name}",
        base_commit=base["sha"],
        hints_text=_text(row, "hints_text", where),
        image=row.get("image") or image_name(org, name, number),
        workdir=spec.repo_dir,
        timeout=_seconds(row, "timeout", where),
        fields={**row, "org": org, "number": number},
    )
