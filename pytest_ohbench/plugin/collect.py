"""Collection: a suite's dataset files become pytest items, one per instance."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.core.errors import DatasetError, HarnessError, TaskFailed, describe_unknown
from pytest_ohbench.core.kinds import kind_named, suite_kind, tasks_by_kind
from pytest_ohbench.core.suite import SUITE_FILE, SuiteConfig, load_suite
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.rows import load_jsonl
from pytest_ohbench.plugin.state import run_state


class OhbenchWarning(pytest.PytestWarning):
    """Input the harness can run but that is probably not what was meant (empty dataset, typos)."""


SUITE_CACHE_KEY = pytest.StashKey[dict[Path, SuiteConfig | DatasetError | None]]()


def suite_for(config: pytest.Config, directory: Path) -> SuiteConfig | DatasetError | None:
    """The suite configured in `directory` (cached per session); errors are returned."""
    cache = config.stash.setdefault(SUITE_CACHE_KEY, {})
    if directory not in cache:
        try:
            suite = load_suite(directory)
            # Options that set a kind's suite.yaml section (--ohbench-perf-*) win over the file.
            for key, changes in run_state(config).settings.section_overrides.items():
                if suite is not None and changes:
                    section = suite.section(key)
                    overridden = getattr(section, "overridden", None)
                    suite.sections[key] = overridden(changes) if overridden else dataclasses.replace(section, **changes)
            cache[directory] = suite
        except DatasetError as exc:
            cache[directory] = exc
    return cache[directory]


def is_dataset(config: pytest.Config, path: Path) -> bool:
    """True for a file a suite.yaml beside it names as a dataset (default `*.jsonl`)."""
    if path.suffix != ".jsonl":
        return False
    suite = suite_for(config, path.parent)
    if suite is None or isinstance(suite, DatasetError):
        return False  # a broken suite.yaml is reported once, on itself (broken_suite_file)
    if suite_kind(suite.kind) is not None:
        return False  # folder suites: collect_folders.py
    return any(path.match(pattern) for pattern in suite.datasets)


def inside_suite(config: pytest.Config, path: Path) -> bool:
    """True when a folder above `path` (up to the rootdir) holds a suite.yaml."""
    for directory in path.parents:
        if suite_for(config, directory) is not None:
            return True
        if directory == config.rootpath:
            break
    return False


def broken_suite_file(config: pytest.Config, path: Path) -> bool:
    """True for a suite.yaml that cannot be loaded (and is not a file of another suite): it is
    collected as its one error, while nothing of its folder is (its datasets cannot be told apart)."""
    return (
        path.name == SUITE_FILE
        and isinstance(suite_for(config, path.parent), DatasetError)
        and not inside_suite(config, path.parent)
    )


def item_name(instance_id: str, model: str | None, attempt: int, attempts: int, agent: str | None = None) -> str:
    """`<id>`, `<id>[gpt]` with several models, `<id>[gpt-a2]` / `<id>[a2]` with attempts,
    `<id>[mini]` / `<id>[mini-gpt]` with several agents."""
    parts = [part for part in (agent, model, f"a{attempt}" if attempts > 1 else None) if part]
    return f"{instance_id}[{'-'.join(parts)}]" if parts else instance_id


def warns_here(config: pytest.Config) -> bool:
    """True in a serial run and on xdist's first worker: every worker collects the same
    items, so collection warnings come from one of them only and show once."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return workerinput is None or workerinput.get("workerid") == "gw0"


def task_timeout(config: pytest.Config, task: Task, suite: SuiteConfig) -> float:
    """Seconds for the whole item: the task's own `timeout`, else --timeout, else suite.yaml (or its default)."""
    if task.timeout is not None:
        return task.timeout
    given = run_state(config).settings.task_timeout
    return float(given) if given is not None else suite.timeouts.task


def task_items(parent: pytest.Collector, task: Task, suite: SuiteConfig) -> Iterator[TaskItem]:
    """The items of one task: one per --agent, --llm-config section and attempt."""
    state = run_state(parent.config)
    agents = state.settings.agent_names or ("",)
    models: list[str | None] = list(state.llms) or [None]
    attempts = state.settings.attempts
    for agent, model, attempt in itertools.product(agents, models, range(1, attempts + 1)):
        name = item_name(task.instance_id, model if len(models) > 1 else None, attempt, attempts, agent if len(agents) > 1 else None)
        item = TaskItem.from_parent(parent, name=name, callobj=run_task)
        item.ohbench_task, item.ohbench_suite = task, suite
        item.ohbench_agent_name, item.ohbench_llm, item.ohbench_attempt = agent, model, attempt
        # pytest-timeout bounds the whole item; signal method, so teardown still runs.
        item.add_marker(pytest.mark.timeout(task_timeout(parent.config, task, suite), method="signal"))
        yield item


def run_task(ohbench_outcome: Any) -> None:
    """The test body every task item runs: the fixtures did the work, this judges it."""
    ohbench_outcome.assert_resolved()


class TaskItem(pytest.Function):
    """One benchmark instance as a pytest item, bound to `run_task` and real fixtures."""

    ohbench_task: Task
    ohbench_suite: SuiteConfig
    ohbench_agent_name: str  # the --agent this item runs ("" when none was chosen)
    ohbench_llm: str | None  # the --llm-config section this item runs with
    ohbench_attempt: int  # 1..k with --ohbench-attempts k
    ohbench_log_name: str = ""  # its folder under logs/ when its name is another suite's item's too

    @property
    def log_name(self) -> str:
        """Its folder's name under the run's logs/: the item's name, unless another suite has an item of that name."""
        return self.ohbench_log_name or self.name

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        """A short verdict for judged failures and harness errors instead of a traceback."""
        shown = run_state(self.config).shown_text  # paths as they open from where pytest ran
        if isinstance(excinfo.value, TaskFailed):
            return shown(excinfo.value.verdict)
        if isinstance(excinfo.value, HarnessError):
            return shown(f"{self.ohbench_task.instance_id}: {excinfo.value.outcome.value}: {excinfo.value.message}")
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        task = self.ohbench_task
        return self.path, max(task.source_line - 1, 0), f"{task.instance_id} ({task.location})"


class InvalidRow(pytest.Collector):
    """A dataset line that could not be loaded: a collection error naming file and line."""

    def __init__(self, *, error: DatasetError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def collect(self) -> list[pytest.Item]:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        return run_state(self.config).shown_text(str(excinfo.value))


class BrokenSuiteFile(pytest.File):
    """A suite.yaml that cannot be loaded: one collection error naming it, whatever its folder holds."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        suite = suite_for(self.config, self.path.parent)
        assert isinstance(suite, DatasetError)
        raise suite

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, DatasetError):
            return run_state(self.config).shown_text(str(excinfo.value))
        return super().repr_failure(excinfo)


class DatasetFile(pytest.File):
    """A JSONL dataset in a suite folder (SWE-bench or Multi-SWE-bench rows)."""

    ohbench_unreadable = False  # set when reading failed: tolerated like a bad row

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        suite = suite_for(self.config, self.path.parent)
        if isinstance(suite, DatasetError):
            raise suite
        assert suite is not None
        try:
            entries = list(load_jsonl(self.path))
        except Exception as exc:  # whatever went wrong, it is this file's error, not the run's
            self.ohbench_unreadable = True
            raise DatasetError(f"{self.path}: cannot read the dataset: {type(exc).__name__}: {exc}") from exc
        self._warn_about(entries)
        # Rows their kind cannot run here (the SWE kind's without the swebench package): one
        # error for the file now, rather than an infra_error per item after its agent ran.
        held: set[int] = set()
        for kind, tasks in tasks_by_kind(e for e in entries if isinstance(e, Task)).items():
            cannot, error = kind.hold(tasks, suite)
            if error is not None:
                held |= {id(task) for task in cannot}
                yield InvalidRow.from_parent(self, name=f"held-{kind.name}", error=error)
        for entry in entries:
            if isinstance(entry, DatasetError):
                yield InvalidRow.from_parent(self, name=f"line-{entry.line}", error=entry)
                continue
            if id(entry) in held:
                continue
            entry = kind_named(entry.kind).prepare(entry, suite)
            yield from task_items(self, entry, suite)

    def _warn_about(self, entries: list[Task | DatasetError]) -> None:
        """Warn (once per dataset) about a file with no rows and row fields nothing reads."""
        if not warns_here(self.config):
            return
        shown = run_state(self.config).shown(self.path)
        if not entries:
            self._warn(shown, "empty dataset: it has no rows")
        # Each kind's rows against the fields it reads (kinds that read the same fields together).
        by_known: dict[frozenset[str], set[str]] = {}
        for kind, tasks in tasks_by_kind(e for e in entries if isinstance(e, Task)).items():
            by_known.setdefault(kind.known_fields, set()).update(name for task in tasks for name in task.fields)
        unknown = ", ".join(d for known, names in by_known.items() for d in describe_unknown(names, known))
        if unknown:
            self._warn(shown, f"row fields the harness does not read, ignored: {unknown}")

    @staticmethod
    def _warn(shown: str, message: str) -> None:
        # Node.warn() would put the file's absolute path before the message: the path the user sees.
        warnings.warn_explicit(OhbenchWarning(f"{shown}: {message}"), category=None, filename=shown, lineno=0)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, DatasetError):
            return run_state(self.config).shown_text(str(excinfo.value))
        return super().repr_failure(excinfo)


def name_log_folders(items: list[pytest.Item]) -> None:
    """Give items of different suites that share a name (an instance id in two datasets) log
    folders of their own, `<suite>.<name>` (numbered if their suites share a name too), so
    neither overwrites the other's. Every xdist worker collects the same items in the same
    order, so each names them alike; a resumed run names them before it drops the judged ones."""
    by_name: dict[str, list[TaskItem]] = {}
    for item in items:
        if isinstance(item, TaskItem):
            by_name.setdefault(item.name, []).append(item)
    for same in by_name.values():
        if len(same) < 2:
            continue
        seen: dict[str, int] = {}
        for item in same:
            base = f"{item.ohbench_suite.name}.{item.name}"
            seen[base] = seen.get(base, 0) + 1
            item.ohbench_log_name = base if seen[base] == 1 else f"{base}.{seen[base]}"
