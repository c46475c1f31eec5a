"""The GitTaskBench kind: a root with config/, queries/ and test_scripts/ side by side (or a
suite.yaml saying `kind: gittaskbench`); each `config/<task>/task_info.yaml` is one task."""

from __future__ import annotations

from pathlib import Path

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import Folder, FolderContext, TaskKind
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.gittaskbench.loader import KIND, TASK_INFO, is_root, load_task
from pytest_ohbench.kinds.prompts.checker import ScriptChecker


class GitTaskBenchKind(TaskKind):
    name = KIND
    checker = ScriptChecker
    suite_kind = KIND
    folder_priority = 20
    default_workdir = "/GitTaskBench"
    host_workspace = True  # the workspace is the code bases and inputs the task names
    batch = True

    def find_folder(self, directory: Path, suite: SuiteConfig | DatasetError | None, context: FolderContext) -> Folder | None:
        if isinstance(suite, SuiteConfig) and suite.kind == KIND:
            return Folder(self, directory, context.with_defaults(suite, self))
        if suite is None and is_root(directory):
            return Folder(self, directory, context.default_suite(directory, self))
        return None

    def allowed(self, folder: Folder, path: Path) -> bool:
        parts = path.relative_to(folder.path).parts
        return parts[0] == "config" and ((len(parts) <= 2 and path.is_dir()) or (len(parts) == 3 and parts[2] == TASK_INFO))

    def task_root(self, path: Path) -> Path | None:
        if path.name == TASK_INFO and len(path.parents) > 2 and path.parent.parent.name == "config":
            return path.parents[2]
        return None

    def is_task_file(self, folder: Folder, path: Path) -> bool:
        return path.name == TASK_INFO

    def load_task(self, folder: Folder, path: Path, suite: SuiteConfig) -> tuple[Task, SuiteConfig]:
        return load_task(path, folder.path, suite), suite

    def task_name(self, path: Path) -> str:
        return path.parent.name

    def batch_names(self, record: TaskRecord, source: Path) -> tuple[str, str]:
        # run_batch's prompt file of a task: config/<task>/task_info.yaml -> queries/<task>/query.json
        return f"{record.instance_id}.md", str(source.parents[2] / "queries" / record.instance_id / "query.json")
