"""Collection of folder suites, for every kind that has them (core/kinds.py `TaskKind`).

Each folder kind says which folders are its suites (prompt folders, GitTaskBench roots,
Harbor task folders and sets: see the kinds' packages), what below one of them may be
collected, and which files hold a task. This module asks them, folder by folder, in their
order, and makes the pytest collectors: nothing else inside a folder suite is collected (not
test scripts, not the code bases' own tests, not a task's `tests/`), and a folder a kind
calls broken is one collection error with nothing collected below it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import Folder, TaskKind, folder_kinds, suite_kind
from pytest_ohbench.core.suite import SUITE_FILE, SuiteConfig, load_suite
from pytest_ohbench.plugin.collect import InvalidRow, suite_for, task_items
from pytest_ohbench.plugin.state import run_state

FOLDER_CACHE_KEY = pytest.StashKey[dict[Path, Folder | None]]()
ARGS_KEY = pytest.StashKey[tuple[set[Path], set[Path]]]()


def _command_line_paths(config: pytest.Config) -> tuple[set[Path], set[Path]]:
    """(folders, .md files) named on the command line (not testpaths or the current folder)."""
    if ARGS_KEY not in config.stash:
        folders: set[Path] = set()
        files: set[Path] = set()
        if config.args_source == pytest.Config.ArgsSource.ARGS:
            for arg in config.args:
                path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
                if path.is_dir():
                    folders.add(path)
                elif path.suffix == ".md":
                    files.add(path)
        config.stash[ARGS_KEY] = (folders, files)
    return config.stash[ARGS_KEY]


def with_kind_defaults(suite: SuiteConfig, kind: TaskKind) -> SuiteConfig:
    """A folder suite's settings, with the kind's defaults where its suite.yaml is silent."""
    path = suite.root / SUITE_FILE
    raw: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        raw = loaded if isinstance(loaded, dict) else {}
    container: dict[str, Any] = raw["container"] if isinstance(raw.get("container"), dict) else {}
    changes: dict[str, Any] = {}
    if kind.default_datasets is not None and "datasets" not in raw:
        changes["datasets"] = list(kind.default_datasets)
    if kind.default_workdir is not None and "workdir" not in container:
        changes["container"] = dataclasses.replace(suite.container, workdir=kind.default_workdir)
    return dataclasses.replace(suite, **changes)


def default_suite(directory: Path, kind: TaskKind) -> SuiteConfig:
    """Settings of a folder suite of `kind` without a suite.yaml."""
    return with_kind_defaults(SuiteConfig(root=directory, name=directory.name, kind=kind.suite_kind or kind.name), kind)


def folder_suite(directory: Path, kind: str) -> SuiteConfig:
    """A folder suite's settings (suite.yaml `kind: <kind>`): its suite.yaml with the kind's
    defaults, or the defaults alone."""
    found = suite_kind(kind)
    if found is None:
        raise LookupError(f"no task kind has folder suites of kind {kind!r}")
    suite = load_suite(directory)
    return with_kind_defaults(suite, found) if suite is not None else default_suite(directory, found)


def _ancestors(config: pytest.Config, path: Path) -> Iterator[Path]:
    """The folders above `path`, nearest first, up to the rootdir (or the filesystem root)."""
    for directory in path.parents:
        yield directory
        if directory == config.rootpath:
            break


@dataclasses.dataclass
class _Context:
    """What a folder kind may ask about the tree (core/kinds.py FolderContext), for one session."""

    config: pytest.Config

    def suite_at(self, directory: Path) -> SuiteConfig | DatasetError | None:
        return suite_for(self.config, directory)

    def named(self) -> tuple[set[Path], set[Path]]:
        return _command_line_paths(self.config)

    def ancestors(self, path: Path) -> Iterator[Path]:
        return _ancestors(self.config, path)

    def default_suite(self, directory: Path, kind: TaskKind) -> SuiteConfig:
        return default_suite(directory, kind)

    def with_defaults(self, suite: SuiteConfig, kind: TaskKind) -> SuiteConfig:
        return with_kind_defaults(suite, kind)


def folder_at(config: pytest.Config, directory: Path) -> Folder | None:
    """The folder suite rooted at `directory`, if it is one (cached per session).

    A broken suite.yaml makes no folder suite: it is reported once, on itself (collect.py).
    """
    cache = config.stash.setdefault(FOLDER_CACHE_KEY, {})
    if directory not in cache:
        suite = suite_for(config, directory)
        context = _Context(config)
        cache[directory] = next(
            (found for kind in folder_kinds() if (found := kind.find_folder(directory, suite, context)) is not None), None
        )
    return cache[directory]


def ignore(config: pytest.Config, path: Path) -> bool | None:
    """pytest_ignore_collect for folder suites: True for what they hold besides their tasks."""
    for directory in _ancestors(config, path):
        folder = folder_at(config, directory)
        if folder is not None:
            return folder.broken or not folder.kind.allowed(folder, path)
    return None


def _task_folder(config: pytest.Config, path: Path) -> Folder | None:
    """The folder suite that holds `path` as a task file, or None."""
    for kind in folder_kinds():
        root = kind.task_root(path)
        if root is None:
            continue
        folder = folder_at(config, root)
        if folder is not None and folder.kind is kind and not folder.broken and kind.is_task_file(folder, path):
            return folder
    return None


def collector(parent: pytest.Collector, path: Path) -> pytest.File | None:
    """The collector of a task file of a folder suite, or None."""
    return FolderTaskFile.from_parent(parent, path=path) if _task_folder(parent.config, path) is not None else None


def broken_folder(parent: pytest.Collector, path: Path) -> pytest.Directory | None:
    """pytest_collect_directory: the collector of a folder that is a broken task, or None."""
    folder = folder_at(parent.config, path)
    if folder is not None and folder.broken:
        return BrokenTaskFolder.from_parent(parent, path=path)
    return None


def is_task_file(config: pytest.Config, path: Path) -> bool:
    """True for a file a folder suite collects tasks from (used to tell task runs from plain tests)."""
    return _task_folder(config, path) is not None


class FolderTaskFile(pytest.File):
    """A file holding one task of a folder suite; a bad one is a collection error naming it."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        folder = _task_folder(self.config, self.path)
        assert folder is not None
        kind, suite = folder.kind, folder.suite
        try:
            if isinstance(suite, DatasetError):
                raise suite
            task, task_suite = kind.load_task(folder, self.path, suite)
        except DatasetError as exc:
            # Yielded, not raised: BadRowTolerance lets the other tasks run.
            yield InvalidRow.from_parent(self, name=kind.task_name(self.path), error=exc)
            return
        yield from task_items(self, task, task_suite)


class BrokenTaskFolder(pytest.Directory):
    """A folder shaped as a task that cannot be one: one collection error naming it, and nothing
    below it is collected (the other tasks still run, as after a bad dataset row)."""

    ohbench_unreadable = True  # tolerated by BadRowTolerance, like an unreadable dataset

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        folder = folder_at(self.config, self.path)
        assert folder is not None and isinstance(folder.suite, DatasetError)
        raise folder.suite

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, DatasetError):
            return run_state(self.config).shown_text(str(excinfo.value))
        return super().repr_failure(excinfo)
