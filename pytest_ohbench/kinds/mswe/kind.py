"""The Multi-SWE-bench kind: its JSONL rows (org, repo, number, fix_patch, ...) and the fix-run check."""

from __future__ import annotations

from typing import Any

from pytest_ohbench.core.kinds import TaskKind
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.mswe.checker import MultiSweChecker
from pytest_ohbench.kinds.mswe.loader import multi_swe_bench_task
from pytest_ohbench.kinds.swe.loader import KNOWN_FIELDS


class MultiSweKind(TaskKind):
    name = "multi-swe"
    checker = MultiSweChecker
    row_priority = 10
    known_fields = KNOWN_FIELDS  # the SWE-bench loader's list names both datasets' columns

    def claims_row(self, row: dict[str, Any]) -> bool:
        return "org" in row and ("fix_patch" in row or "f2p_tests" in row or "base" in row)

    def task_from_row(self, row: dict[str, Any], where: str) -> Task:
        return multi_swe_bench_task(row, where)
