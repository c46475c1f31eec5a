"""JSONL datasets: one task per line, each row's format detected and sent to its loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import kind_named, row_kinds
from pytest_ohbench.core.task import Task

FALLBACK = "swe"  # a row no kind claims is read as SWE-bench's, which names its first missing field


def task_from_row(row: Any, where: str) -> Task:
    """The task of a row, by the first row kind (core/kinds.py) that claims it; DatasetError
    names `where` on a bad row."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
    kind = next((k for k in row_kinds() if k.claims_row(row)), None) or kind_named(FALLBACK)
    return kind.task_from_row(row, where)


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
