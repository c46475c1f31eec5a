"""The perf kind: ISO-Bench / GSO records (rows with efficiency tests), their suite.yaml
`perf:` section, the perf check, and their part of summary.json and report.html."""

from __future__ import annotations

from typing import Any

from pytest_ohbench.core.kinds import TaskKind
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.perf.checker import PerfChecker
from pytest_ohbench.kinds.perf.loader import KNOWN_FIELDS, is_perf_row, perf_task, reveal_reference
from pytest_ohbench.kinds.perf.report import perf_section, speedup_figures
from pytest_ohbench.kinds.perf.settings import SECTION, PerfSettings, perf_settings
from pytest_ohbench.kinds.perf.summary import format_perf, perf_summary


class PerfKind(TaskKind):
    name = "perf"
    checker = PerfChecker
    section = (SECTION, PerfSettings)
    row_priority = 30  # before SWE-bench's: a perf record has SWE-bench's fields too
    known_fields = KNOWN_FIELDS

    def claims_row(self, row: dict[str, Any]) -> bool:
        return is_perf_row(row)

    def task_from_row(self, row: dict[str, Any], where: str) -> Task:
        return perf_task(row, where)

    def prepare(self, task: Task, suite: SuiteConfig) -> Task:
        return reveal_reference(task) if perf_settings(suite).reveal_reference else task

    def summary_section(self, records: list[TaskRecord]) -> dict[str, Any] | None:
        return perf_summary(records)

    def terminal_lines(self, section: dict[str, Any]) -> list[str]:
        return format_perf(section)

    def report_section(self, section: dict[str, Any]) -> str:
        return perf_section(section)

    def report_charts(self, records: list[TaskRecord]) -> list[str]:
        return speedup_figures(records)
