"""JSONL datasets: one task per line, each row's format detected and sent to its loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.mswe.loader import multi_swe_bench_task
from pytest_ohbench.kinds.perf.loader import is_perf_row, perf_task
from pytest_ohbench.kinds.swe.loader import swe_bench_task


def task_from_row(row: Any, where: str) -> Task:
    """Detect the row's format and build its Task; DatasetError names `where` on bad rows."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if is_perf_row(row):  # ISO-Bench perf records: they have efficiency tests
        return perf_task(row, where)
    if ("instance_id" in row and "base_commit" in row) or "FAIL_TO_PASS" in row:
        return swe_bench_task(row, where)
    if "org" in row and ("fix_patch" in row or "f2p_tests" in row or "base" in row):
        return multi_swe_bench_task(row, where)
    return swe_bench_task(row, where)  # reports the first missing SWE-bench field


def load_jsonl(path: Path) -> Iterator[Task | DatasetError]:
    """Yield one Task per non-blank line, or a DatasetError (naming file:line) for a bad one.

    Errors are yielded rather than raised so one bad row never hides the others.
    """
    seen: dict[str, int] = {}
    # Binary, decoded line by line: a stray non-UTF-8 byte is that row's error, not the file's.
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield DatasetError(f"{where}: not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}", number)
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield DatasetError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})", number)
                continue
            try:
                task = task_from_row(row, where)
            except DatasetError as exc:
                exc.line = number
                yield exc
                continue
            if task.instance_id in seen:
                yield DatasetError(
                    f"{where}: duplicate instance_id '{task.instance_id}' (first on line {seen[task.instance_id]})",
                    number,
                )
                continue
            seen[task.instance_id] = number
            task.source_file, task.source_line = str(path), number
            yield task
