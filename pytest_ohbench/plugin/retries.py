"""--ohbench-retries: what an item retried for an infrastructure failure runs with next, and
what its record keeps of the tries before (core/failures.py says which failures are retried)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_ohbench.core.failures import MEMORY_CAP, MORE_MEMORY
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import SuiteConfig, memory_bytes


def earlier_try(record: TaskRecord) -> dict[str, Any]:
    """One entry of the next record's `retry_history`: how this try ended, and its memory limit."""
    return {
        "outcome": record.outcome.value, "failure_class": record.failure_class, "error": record.error or record.reason,
        "memory": record.memory,
    }


def next_settings(record: TaskRecord, suite: SuiteConfig, original: SuiteConfig) -> SuiteConfig | None:
    """The suite settings the next try runs with: twice the memory after an OOM kill, at most
    MEMORY_CAP times the suite's own; None when that cap is reached (no try would differ)."""
    if record.failure_class not in MORE_MEMORY:
        return suite
    now, cap = memory_bytes(suite.container.memory), MEMORY_CAP * memory_bytes(original.container.memory)
    if now >= cap:
        return None
    return dataclasses.replace(suite, container=dataclasses.replace(suite.container, memory=min(2 * now, cap)))
