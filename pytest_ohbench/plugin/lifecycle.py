"""An item's life as a task: its record, its stages, and whether pytest-timeout stopped it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.plugin.state import run_state

RECORD_KEY = pytest.StashKey[TaskRecord]()
# The items this process runs after an item, in order: pytest_runtest_protocol's nextitem
# and, in a run without xdist (whose order is session.items), the one after it.
COMING_ITEMS = pytest.StashKey["list[pytest.Item]"]()
POSITIONS = pytest.StashKey["dict[str, int]"]()  # session.items' node ids -> index (serial runs)
DEADLINE_KEY = pytest.StashKey[float]()  # time.monotonic() at which pytest-timeout fires
# pytest-timeout's signal fires at the deadline; allow for the clock reads around it.
DEADLINE_SLACK = 0.5


def coming_items(item: pytest.Item, nextitem: pytest.Item | None) -> list[pytest.Item]:
    """The next item, and in a serial run (no xdist worker) the one after it too."""
    if nextitem is None:
        return []
    items = item.session.items
    if hasattr(item.config, "workerinput") or not items:
        return [nextitem]  # a worker's order is the scheduler's, known one item ahead
    if POSITIONS not in item.session.stash:
        item.session.stash[POSITIONS] = {each.nodeid: index for index, each in enumerate(items)}
    index = item.session.stash[POSITIONS].get(nextitem.nodeid)
    after = items[index + 1] if index is not None and index + 1 < len(items) and items[index] is nextitem else None
    return [nextitem] if after is None else [nextitem, after]


def record_for(item: pytest.Item) -> TaskRecord:
    """The item's record, created on first use."""
    if RECORD_KEY not in item.stash:
        state = run_state(item.config)
        task = item.ohbench_task  # type: ignore[attr-defined]
        item.stash[RECORD_KEY] = TaskRecord(
            run_id=state.run_id,
            nodeid=item.nodeid,
            instance_id=task.instance_id,
            suite=item.ohbench_suite.name,  # type: ignore[attr-defined]
            dataset=state.relative(Path(task.source_file)),
            kind=task.kind,
            agent=getattr(item, "ohbench_agent_name", ""),
            model=getattr(item, "ohbench_llm", None),
            attempt=getattr(item, "ohbench_attempt", 1),
        )
    return item.stash[RECORD_KEY]


@contextlib.contextmanager
def stage(record: TaskRecord, name: str) -> Iterator[None]:
    """Mark `record` as in stage `name` and time it (seconds, in record.durations).

    A stage entered inside another (an image resolved lazily during the check) hands the
    outer stage back when it ends, so a timeout is blamed on the stage that was running.
    """
    outer, record.stage = record.stage, name
    started = time.monotonic()
    try:
        yield
    finally:
        record.durations[name] = round(record.durations.get(name, 0.0) + time.monotonic() - started, 3)
    # Only a stage that ended well hands back: a failure stays blamed on where it happened.
    if record.stage == name and outer in ("check",):
        record.stage = outer


def stopped_by_timeout(item: pytest.Item, exc: BaseException) -> bool:
    """True when pytest-timeout's signal stopped `item` (its pytest.fail came at the deadline)."""
    deadline = item.stash.get(DEADLINE_KEY, None)
    return (
        isinstance(exc, pytest.fail.Exception)
        and deadline is not None
        and time.monotonic() >= deadline - DEADLINE_SLACK
    )


class TimeoutWatch:
    """Notes each item's pytest-timeout deadline through the plugin's own hook."""

    @pytest.hookimpl(wrapper=True, optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> Generator[None, Any, Any]:
        if settings.timeout and settings.timeout > 0:
            item.stash[DEADLINE_KEY] = time.monotonic() + settings.timeout
        return (yield)
