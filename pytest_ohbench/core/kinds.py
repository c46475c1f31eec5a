"""Task kinds as plug-ins: what a kind provides, and the registry (entry-point group `pytest_ohbench.kinds`).

A kind is one package (kinds/<kind>/ here, or any installed distribution): its loader, check
spec, checker, suite.yaml section and summary/report sections, made known by one entry
point to a `TaskKind` subclass. The harness never compares kind names: collection, the
check, the local runtime, run_batch's files, summary.json and report.html ask the kind of a
task or record (its `kind` name) here. Every hook has a neutral default, so a kind provides
only what it has: rows of a JSONL dataset, or folder suites, or both.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_ohbench.core.errors import DatasetError

if TYPE_CHECKING:
    from pytest_ohbench.core.record import TaskRecord
    from pytest_ohbench.core.suite import SuiteConfig
    from pytest_ohbench.core.task import Task

ENTRY_POINT_GROUP = "pytest_ohbench.kinds"
ROWS_SUITE = "swe"  # suite.yaml `kind:` of a folder of JSONL datasets (rows of every row kind)


@dataclasses.dataclass
class Folder:
    """A folder suite found at `path`: its kind, the folder's role there (what the kind calls
    it: root, task, set, broken...), and its settings or why they cannot be read."""

    kind: "TaskKind"
    path: Path
    suite: "SuiteConfig | DatasetError"
    role: str = "root"

    @property
    def broken(self) -> bool:
        """A folder that is one collection error, and nothing below it is collected."""
        return self.role == "broken"


class FolderContext(Protocol):
    """What a kind may ask about the tree while it looks for its folder suites."""

    def suite_at(self, directory: Path) -> "SuiteConfig | DatasetError | None":
        """The suite.yaml settings of `directory` (None without one)."""
        ...

    def named(self) -> tuple[set[Path], set[Path]]:
        """(folders, files) named on the command line, resolved."""
        ...

    def ancestors(self, path: Path) -> Iterator[Path]:
        """The folders above `path`, nearest first, up to the rootdir."""
        ...

    def default_suite(self, directory: Path, kind: "TaskKind") -> "SuiteConfig":
        """Settings of a folder suite of `kind` rooted at `directory` without a suite.yaml."""
        ...

    def with_defaults(self, suite: "SuiteConfig", kind: "TaskKind") -> "SuiteConfig":
        """`suite` with `kind`'s defaults where its suite.yaml is silent."""
        ...


class TaskKind:
    """One kind of task. Subclass it, set `name` and `checker`, override the hooks it has."""

    name: ClassVar[str]  # Task.kind and TaskRecord.kind of its tasks
    checker: ClassVar[type]  # a kinds.base.Checker: judges its tasks' check specs
    # suite.yaml: a section of its own settings, (key, dataclass) (e.g. ("perf", PerfSettings)).
    section: ClassVar[tuple[str, type] | None] = None

    # --- JSONL rows: the first registered kind (highest priority) that claims a row loads it.
    row_priority: ClassVar[int | None] = None  # None: not a row format
    known_fields: ClassVar[frozenset[str]] = frozenset()  # row fields it reads (the others are warned about)

    def claims_row(self, row: dict[str, Any]) -> bool:
        """True when `row` is one of this kind's rows."""
        return False

    def task_from_row(self, row: dict[str, Any], where: str) -> "Task":
        """The task of a claimed row (DatasetError naming `where` when it is malformed)."""
        raise NotImplementedError

    def hold(self, tasks: list["Task"], suite: "SuiteConfig") -> tuple[list["Task"], DatasetError | None]:
        """Tasks of one dataset that cannot run here, and the one error that says why."""
        return [], None

    def prepare(self, task: "Task", suite: "SuiteConfig") -> "Task":
        """The task as its suite's settings want it run (e.g. a prompt that names the reference)."""
        return task

    # --- Folder suites: directories that are a suite of this kind (prompt folders, task folders).
    suite_kind: ClassVar[str | None] = None  # the suite.yaml `kind:` that makes a folder one of its suites
    folder_priority: ClassVar[int] = 100  # lower looks first
    default_workdir: ClassVar[str | None] = None  # container.workdir unless suite.yaml says otherwise
    default_datasets: ClassVar[list[str] | None] = None  # datasets: unless suite.yaml says otherwise

    def find_folder(self, directory: Path, suite: "SuiteConfig | DatasetError | None", context: FolderContext) -> Folder | None:
        """The folder suite of this kind rooted at `directory`, if it is one."""
        return None

    def allowed(self, folder: Folder, path: Path) -> bool:
        """Whether `path`, somewhere below `folder`, may be collected (its tasks and the folders that lead to them)."""
        return False

    def task_root(self, path: Path) -> Path | None:
        """The folder whose suite would hold `path` as a task file, or None when it cannot be one."""
        return None

    def is_task_file(self, folder: Folder, path: Path) -> bool:
        """True when `path` (below `folder`) holds one task."""
        return False

    def load_task(self, folder: Folder, path: Path, suite: "SuiteConfig") -> "tuple[Task, SuiteConfig]":
        """The task of a task file, and the settings it runs with (DatasetError when malformed)."""
        raise NotImplementedError

    def task_name(self, path: Path) -> str:
        """The name of the collector of a task file (its item carries the task's id)."""
        return path.stem

    # --- Where its tasks run.
    host_workspace: ClassVar[bool] = False  # its workspace is made of input files only: the local runtime can run it

    # --- run_batch's outputs (batch_results.jsonl): the prompt-style kinds.
    batch: ClassVar[bool] = False

    def batch_names(self, record: "TaskRecord", source: Path) -> tuple[str, str]:
        """(task_name, prompt_file) of a record in batch_results.jsonl; `source` is its task file."""
        return source.name, str(source)

    # --- summary.json, the terminal summary and report.html.
    def summary_section(self, records: "list[TaskRecord]") -> dict[str, Any] | None:
        """This kind's section of summary.json (under its name), from its records; None for none."""
        return None

    def terminal_lines(self, section: dict[str, Any]) -> list[str]:
        """Lines of the terminal summary for its section."""
        return []

    def report_section(self, section: dict[str, Any]) -> str:
        """HTML of report.html for its section."""
        return ""

    def report_charts(self, records: "list[TaskRecord]") -> list[str]:
        """<figure>s for report.html's charts row."""
        return []


@functools.cache  # reading the installed distributions' entry points costs tens of ms
def registered() -> dict[str, TaskKind]:
    """Every registered kind by name (its class imported and made now)."""
    found: dict[str, TaskKind] = {}
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):  # one order everywhere
        kind = point.load()()
        found[kind.name] = kind
    return found


def kind_named(name: str) -> TaskKind:
    """The kind called `name`; LookupError naming the known ones otherwise."""
    kinds = registered()
    if name not in kinds:
        raise LookupError(f"no task kind {name!r} is registered (entry points {ENTRY_POINT_GROUP}: {', '.join(sorted(kinds))})")
    return kinds[name]


def row_kinds() -> list[TaskKind]:
    """The kinds that load JSONL rows, the one to ask first first."""
    return sorted((k for k in registered().values() if k.row_priority is not None), key=lambda k: -(k.row_priority or 0))


def folder_kinds() -> list[TaskKind]:
    """The kinds that have folder suites, in the order they look at a folder."""
    return sorted((k for k in registered().values() if k.suite_kind is not None), key=lambda k: k.folder_priority)


def suite_kind(name: str) -> TaskKind | None:
    """The kind whose folder suites say `kind: name` in suite.yaml, or None (e.g. rows)."""
    return next((k for k in registered().values() if k.suite_kind == name), None)


def sections() -> dict[str, type]:
    """suite.yaml sections the kinds add: key -> settings dataclass."""
    return dict(k.section for k in registered().values() if k.section is not None)


def tasks_by_kind(tasks: "Iterable[Task]") -> "dict[TaskKind, list[Task]]":
    """`tasks` grouped by their kind, in the order the kinds first appear."""
    grouped: dict[TaskKind, list[Task]] = {}
    for task in tasks:
        grouped.setdefault(kind_named(task.kind), []).append(task)
    return grouped


def records_by_kind(records: "Iterable[TaskRecord]") -> "dict[TaskKind, list[TaskRecord]]":
    """`records` grouped by the kind of their task (records of a kind not installed are left out)."""
    kinds = registered()
    grouped: dict[TaskKind, list[TaskRecord]] = {}
    for record in records:
        if record.kind in kinds:
            grouped.setdefault(kinds[record.kind], []).append(record)
    return grouped
