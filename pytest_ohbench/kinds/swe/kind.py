"""The SWE-bench kind: JSONL rows graded by the patch check (checks its rows, loads them, holds
the ones only the official swebench package can grade when it is missing)."""

from __future__ import annotations

from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import TaskKind
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.swe.checker import PatchTestsChecker
from pytest_ohbench.kinds.swe.loader import KNOWN_FIELDS, swe_bench_task
from pytest_ohbench.kinds.swe.official import missing_extra_message, swebench_available, wants_official


class SweKind(TaskKind):
    name = "swe"
    checker = PatchTestsChecker
    row_priority = 20
    known_fields = KNOWN_FIELDS

    def claims_row(self, row: dict[str, Any]) -> bool:
        return ("instance_id" in row and "base_commit" in row) or "FAIL_TO_PASS" in row

    def task_from_row(self, row: dict[str, Any], where: str) -> Task:
        return swe_bench_task(row, where)

    def hold(self, tasks: list[Task], suite: SuiteConfig) -> tuple[list[Task], DatasetError | None]:
        """Rows only the official SWE-bench rules can grade, without the package that holds them:
        one error for the file, rather than an infra_error per item after its agent ran."""
        needy = [task for task in tasks if wants_official(task, suite.test)]
        if not needy or swebench_available():
            return [], None
        return needy, DatasetError(missing_extra_message(needy[0], len(needy)))
