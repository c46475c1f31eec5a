"""The Harbor / Terminal-Bench kind: `task.toml` beside `instruction.md` is one task folder.

A folder with a suite.yaml saying `kind: harbor` gives the task folders below it defaults
(its role: `set`); a folder shaped as a task but missing task.toml or instruction.md is one
collection error naming it (role `broken`), and nothing below it is collected: its hidden
tests must never run on the host.
"""

from __future__ import annotations

from pathlib import Path

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import Folder, FolderContext, TaskKind
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.harbor.loader import INSTRUCTION, KIND, TASK_FILE, incomplete_task, is_task_dir, load_task
from pytest_ohbench.kinds.prompts.checker import ScriptChecker

TASK, SET, BROKEN = "task", "set", "broken"


class HarborKind(TaskKind):
    name = KIND
    checker = ScriptChecker
    suite_kind = KIND
    folder_priority = 10  # a task folder is one whatever else it holds
    batch = True

    def find_folder(self, directory: Path, suite: SuiteConfig | DatasetError | None, context: FolderContext) -> Folder | None:
        if is_task_dir(directory):
            parent = context.suite_at(directory.parent)
            own = isinstance(parent, SuiteConfig) and parent.kind == KIND
            defaults = parent if own else context.default_suite(directory.parent, self)
            return Folder(self, directory, defaults, TASK)  # type: ignore[arg-type]
        if suite is None and (problem := incomplete_task(directory, self._in_set(directory, context))):
            return Folder(self, directory, DatasetError(problem), BROKEN)
        if isinstance(suite, SuiteConfig) and suite.kind == KIND:
            return Folder(self, directory, suite, SET)
        return None

    @staticmethod
    def _in_set(directory: Path, context: FolderContext) -> bool:
        """True when the nearest suite.yaml above `directory` says `kind: harbor`."""
        for above in context.ancestors(directory):
            suite = context.suite_at(above)
            if suite is not None:
                return isinstance(suite, SuiteConfig) and suite.kind == KIND
        return False

    def allowed(self, folder: Folder, path: Path) -> bool:
        if folder.role == SET:
            return path.is_dir()  # task folders below decide for their own files
        return folder.role == TASK and path.relative_to(folder.path).parts == (TASK_FILE,)

    def task_root(self, path: Path) -> Path | None:
        return path.parent if path.name == TASK_FILE else None

    def is_task_file(self, folder: Folder, path: Path) -> bool:
        return folder.role == TASK and path.name == TASK_FILE

    def load_task(self, folder: Folder, path: Path, suite: SuiteConfig) -> tuple[Task, SuiteConfig]:
        return load_task(path.parent, suite)

    def task_name(self, path: Path) -> str:
        return path.parent.name

    def batch_names(self, record: TaskRecord, source: Path) -> tuple[str, str]:
        return record.instance_id, str(source.parent / INSTRUCTION)
