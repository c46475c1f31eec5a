"""Collection of folder suites: prompt folders, GitTaskBench roots and Harbor task folders.

Which folders are suites (and nothing else is collected from them):

- a prompt folder: a folder whose `suite.yaml` says `kind: prompts`, or a folder named on
  the command line (or holding a `.md` file named there) that directly holds `.md` files and
  no Python or project files (`*.py`, pyproject.toml, setup.py, setup.cfg, tox.ini,
  pytest.ini, .git, requirements.txt, package.json, Makefile). Each of its `.md` files (not sub-folders; `README.md` aside) is one
  task, node id `<file>::<stem>`;
- a GitTaskBench root: a folder with `config/`, `queries/` and `test_scripts/` (or a
  `suite.yaml` with `kind: gittaskbench`). Each `config/<task>/task_info.yaml` is one task;
- a Harbor task folder: `task.toml` beside `instruction.md`; its `task.toml` is the task.
  A `suite.yaml` with `kind: harbor` in the folder above gives its tasks defaults (and
  nothing but task folders is collected below it). A folder shaped as a task (instruction.md
  beside tests/test.sh, environment/Dockerfile, ...; inside a Harbor suite any of these) that
  lacks task.toml or instruction.md is one collection error, and nothing in it is collected:
  its hidden tests would otherwise run on the host as ordinary tests.

Nothing else inside these folders is collected: not the test scripts, not the code bases'
own tests, not a task's `tests/`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import SUITE_FILE, SuiteConfig, load_suite
from pytest_ohbench.kinds.gittaskbench import loader as gittaskbench
from pytest_ohbench.kinds.harbor import loader as harbor
from pytest_ohbench.kinds.prompts import loader as prompts
from pytest_ohbench.plugin.collect import InvalidRow, suite_for, task_items
from pytest_ohbench.plugin.state import run_state

PROMPTS, GITTASKBENCH, HARBOR = "prompts", "gittaskbench", "harbor"
HARBOR_SET = "harbor-set"  # a folder of Harbor task folders with a suite.yaml (kind: harbor)
HARBOR_BROKEN = "harbor-broken"  # shaped as a Harbor task, but no task.toml or instruction.md
FOLDER_KINDS = (PROMPTS, GITTASKBENCH, HARBOR)
KIND_WORKDIR = {PROMPTS: "/workspace", GITTASKBENCH: "/GitTaskBench"}
PROMPT_PATTERNS = ["*.md"]
NOT_A_PROMPT = "readme.md"  # left out unless a suite.yaml names it exactly
PROJECT_MARKERS = (
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", ".git", "requirements.txt", "package.json", "Makefile",
)


@dataclasses.dataclass
class Folder:
    """A folder suite: what kind it is, where, and its settings (or why they cannot be read)."""

    kind: str  # prompts | gittaskbench | harbor (a single task folder) | harbor-set | harbor-broken
    path: Path
    suite: SuiteConfig | DatasetError


FOLDER_CACHE_KEY = pytest.StashKey[dict[Path, "Folder | None"]]()
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


def _with_kind_defaults(suite: SuiteConfig) -> SuiteConfig:
    """A folder suite's settings, with the kind's defaults where its suite.yaml is silent."""
    path = suite.root / SUITE_FILE
    raw: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        raw = loaded if isinstance(loaded, dict) else {}
    container: dict[str, Any] = raw["container"] if isinstance(raw.get("container"), dict) else {}
    changes: dict[str, Any] = {}
    if suite.kind == PROMPTS and "datasets" not in raw:
        changes["datasets"] = list(PROMPT_PATTERNS)
    if suite.kind in KIND_WORKDIR and "workdir" not in container:
        changes["container"] = dataclasses.replace(suite.container, workdir=KIND_WORKDIR[suite.kind])
    return dataclasses.replace(suite, **changes)


def _default_suite(directory: Path, kind: str) -> SuiteConfig:
    """Settings of a folder suite without a suite.yaml."""
    return _with_kind_defaults(SuiteConfig(root=directory, name=directory.name, kind=kind))


def folder_suite(directory: Path, kind: str) -> SuiteConfig:
    """A folder suite's settings: its suite.yaml with the kind's defaults, or the defaults alone."""
    suite = load_suite(directory)
    return _with_kind_defaults(suite) if suite is not None else _default_suite(directory, kind)


def _bare_prompt_folder(config: pytest.Config, directory: Path) -> bool:
    """A folder named on the command line that holds prompts and nothing that looks like a project."""
    folders, files = _command_line_paths(config)
    resolved = directory.resolve()
    if any(f.parent == resolved for f in files):
        return True
    if resolved not in folders:
        return False
    children = list(directory.iterdir())
    if any(c.name in PROJECT_MARKERS or (c.suffix == ".py" and c.is_file()) for c in children):
        return False
    return any(c.is_file() and c.suffix == ".md" and c.name.lower() != NOT_A_PROMPT for c in children)


def folder_at(config: pytest.Config, directory: Path) -> Folder | None:
    """The folder suite rooted at `directory`, if it is one (cached per session)."""
    cache = config.stash.setdefault(FOLDER_CACHE_KEY, {})
    if directory in cache:
        return cache[directory]
    folder: Folder | None = None
    suite = suite_for(config, directory)
    kind = suite.kind if isinstance(suite, SuiteConfig) else None
    if harbor.is_task_dir(directory):
        parent = suite_for(config, directory.parent)
        defaults = parent if isinstance(parent, SuiteConfig) and parent.kind == HARBOR else _default_suite(directory.parent, HARBOR)
        folder = Folder(HARBOR, directory, defaults)
    elif suite is None and (problem := harbor.incomplete_task(directory, _in_harbor_suite(config, directory))):
        folder = Folder(HARBOR_BROKEN, directory, DatasetError(problem))
    elif kind == GITTASKBENCH:
        folder = Folder(GITTASKBENCH, directory, _with_kind_defaults(suite))  # type: ignore[arg-type]
    elif suite is None and gittaskbench.is_root(directory):
        folder = Folder(GITTASKBENCH, directory, _default_suite(directory, GITTASKBENCH))
    elif kind == HARBOR:
        folder = Folder(HARBOR_SET, directory, suite)  # type: ignore[arg-type]
    elif kind == PROMPTS:
        folder = Folder(PROMPTS, directory, _with_kind_defaults(suite))  # type: ignore[arg-type]
    elif suite is None and _bare_prompt_folder(config, directory):
        folder = Folder(PROMPTS, directory, _default_suite(directory, PROMPTS))
    # A broken suite.yaml makes no folder suite: it is reported once, on itself (collect.py).
    cache[directory] = folder
    return folder


def is_prompt(path: Path, folder: Folder) -> bool:
    """True for a file of a prompt folder that is a task (by the suite's patterns, README.md aside)."""
    if not path.is_file() or path.parent != folder.path:
        return False
    patterns = folder.suite.datasets if isinstance(folder.suite, SuiteConfig) else PROMPT_PATTERNS
    if path.name.lower() == NOT_A_PROMPT and path.name not in patterns:
        return False
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


def _ancestors(config: pytest.Config, path: Path) -> Iterator[Path]:
    """The folders above `path`, nearest first, up to the rootdir (or the filesystem root)."""
    for directory in path.parents:
        yield directory
        if directory == config.rootpath:
            break


def _in_harbor_suite(config: pytest.Config, directory: Path) -> bool:
    """True when a folder above `directory` has a suite.yaml saying `kind: harbor`."""
    for above in _ancestors(config, directory):
        suite = suite_for(config, above)
        if suite is not None:
            return isinstance(suite, SuiteConfig) and suite.kind == HARBOR
    return False


def _allowed(folder: Folder, path: Path) -> bool:
    """Whether `path`, somewhere below `folder`, may be collected."""
    if folder.kind == HARBOR_BROKEN:
        return False  # its own error is reported once, on the folder
    parts = path.relative_to(folder.path).parts
    if folder.kind == PROMPTS:
        return len(parts) == 1 and is_prompt(path, folder)
    if folder.kind == HARBOR_SET:
        return path.is_dir()  # task folders below decide for their own files
    if folder.kind == GITTASKBENCH:
        return parts[0] == "config" and ((len(parts) <= 2 and path.is_dir()) or (len(parts) == 3 and parts[2] == gittaskbench.TASK_INFO))
    return parts == (harbor.TASK_FILE,)


def ignore(config: pytest.Config, path: Path) -> bool | None:
    """pytest_ignore_collect for folder suites: True for what they hold besides their tasks."""
    for directory in _ancestors(config, path):
        folder = folder_at(config, directory)
        if folder is not None:
            return not _allowed(folder, path)
    return None


def collector(parent: pytest.Collector, path: Path) -> pytest.File | None:
    """The collector of a task file of a folder suite, or None."""
    config = parent.config
    folder = folder_at(config, path.parent)
    if folder is not None and folder.kind == PROMPTS and is_prompt(path, folder):
        return PromptFile.from_parent(parent, path=path)
    if folder is not None and folder.kind == HARBOR and path.name == harbor.TASK_FILE:
        return HarborTaskFile.from_parent(parent, path=path)
    if path.name == gittaskbench.TASK_INFO and len(path.parents) > 2 and path.parent.parent.name == "config":
        root = folder_at(config, path.parents[2])
        if root is not None and root.kind == GITTASKBENCH:
            return GitTaskBenchFile.from_parent(parent, path=path)
    return None


def broken_folder(parent: pytest.Collector, path: Path) -> pytest.Directory | None:
    """pytest_collect_directory: the collector of a folder that is a broken task, or None."""
    folder = folder_at(parent.config, path)
    if folder is not None and folder.kind == HARBOR_BROKEN:
        return BrokenTaskFolder.from_parent(parent, path=path)
    return None


def is_task_file(config: pytest.Config, path: Path) -> bool:
    """True for a file a folder suite collects tasks from (used to tell task runs from plain tests)."""
    folder = folder_at(config, path.parent)
    if folder is not None and folder.kind == PROMPTS:
        return is_prompt(path, folder)
    if folder is not None and folder.kind == HARBOR:
        return path.name == harbor.TASK_FILE
    if path.name == gittaskbench.TASK_INFO and len(path.parents) > 2:
        root = folder_at(config, path.parents[2])
        return root is not None and root.kind == GITTASKBENCH
    return False


class FolderTaskFile(pytest.File):
    """A file holding one task of a folder suite; a bad one is a collection error naming it."""

    def folder(self) -> Folder:
        raise NotImplementedError

    def load(self, suite: SuiteConfig) -> tuple[Any, SuiteConfig]:
        raise NotImplementedError

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        name = self.path.parent.name if self.path.name in (harbor.TASK_FILE, gittaskbench.TASK_INFO) else self.path.stem
        suite = self.folder().suite
        try:
            if isinstance(suite, DatasetError):
                raise suite
            task, task_suite = self.load(suite)
        except DatasetError as exc:
            # Yielded, not raised: BadRowTolerance lets the other tasks run.
            yield InvalidRow.from_parent(self, name=name, error=exc)
            return
        yield from task_items(self, task, task_suite)


class PromptFile(FolderTaskFile):
    """A `.md` prompt: one task."""

    def folder(self) -> Folder:
        folder = folder_at(self.config, self.path.parent)
        assert folder is not None
        return folder

    def load(self, suite: SuiteConfig) -> tuple[Any, SuiteConfig]:
        return prompts.load_prompt(self.path, suite), suite


class GitTaskBenchFile(FolderTaskFile):
    """A GitTaskBench `config/<task>/task_info.yaml`: one task."""

    def folder(self) -> Folder:
        folder = folder_at(self.config, self.path.parents[2])
        assert folder is not None
        return folder

    def load(self, suite: SuiteConfig) -> tuple[Any, SuiteConfig]:
        return gittaskbench.load_task(self.path, self.path.parents[2], suite), suite


class HarborTaskFile(FolderTaskFile):
    """A Harbor task folder's `task.toml`: one task."""

    def folder(self) -> Folder:
        folder = folder_at(self.config, self.path.parent)
        assert folder is not None
        return folder

    def load(self, suite: SuiteConfig) -> tuple[Any, SuiteConfig]:
        return harbor.load_task(self.path.parent, suite)


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
