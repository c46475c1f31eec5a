"""The prompt kind: a folder of `.md` prompts (run_batch style), one task each.

A folder is a prompt suite when its suite.yaml says `kind: prompts`, or when it is named on
the command line (or holds a `.md` file named there) and directly holds `.md` files and no
Python or project files, so no project's README or CHANGELOG is ever taken for a prompt.
Each of its `.md` files (not sub-folders; `README.md` aside unless `datasets:` names it) is
one task, node id `<file>::<stem>`.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.kinds import Folder, FolderContext, TaskKind
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.kinds.prompts.checker import ScriptChecker
from pytest_ohbench.kinds.prompts.loader import KIND, load_prompt

SUITE_KIND = "prompts"
PROMPT_PATTERNS = ["*.md"]
NOT_A_PROMPT = "readme.md"  # left out unless a suite.yaml names it exactly
PROJECT_MARKERS = (
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", ".git", "requirements.txt", "package.json", "Makefile",
)


def is_prompt(path: Path, folder: Folder) -> bool:
    """True for a file of a prompt folder that is a task (by the suite's patterns, README.md aside)."""
    if not path.is_file() or path.parent != folder.path:
        return False
    patterns = folder.suite.datasets if isinstance(folder.suite, SuiteConfig) else PROMPT_PATTERNS
    if path.name.lower() == NOT_A_PROMPT and path.name not in patterns:
        return False
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


def bare_prompt_folder(directory: Path, named: tuple[set[Path], set[Path]]) -> bool:
    """A folder named on the command line that holds prompts and nothing that looks like a project."""
    folders, files = named
    resolved = directory.resolve()
    if any(f.parent == resolved for f in files):
        return True
    if resolved not in folders:
        return False
    children = list(directory.iterdir())
    if any(c.name in PROJECT_MARKERS or (c.suffix == ".py" and c.is_file()) for c in children):
        return False
    return any(c.is_file() and c.suffix == ".md" and c.name.lower() != NOT_A_PROMPT for c in children)


class PromptKind(TaskKind):
    name = KIND
    checker = ScriptChecker
    suite_kind = SUITE_KIND
    folder_priority = 30
    default_workdir = "/workspace"
    default_datasets = PROMPT_PATTERNS
    host_workspace = True  # the workspace is the prompt's input files
    batch = True

    def find_folder(self, directory: Path, suite: SuiteConfig | DatasetError | None, context: FolderContext) -> Folder | None:
        if isinstance(suite, SuiteConfig) and suite.kind == SUITE_KIND:
            return Folder(self, directory, context.with_defaults(suite, self))
        if suite is None and bare_prompt_folder(directory, context.named()):
            return Folder(self, directory, context.default_suite(directory, self))
        return None

    def allowed(self, folder: Folder, path: Path) -> bool:
        return path.parent == folder.path and is_prompt(path, folder)

    def task_root(self, path: Path) -> Path | None:
        return path.parent

    def is_task_file(self, folder: Folder, path: Path) -> bool:
        return is_prompt(path, folder)

    def load_task(self, folder: Folder, path: Path, suite: SuiteConfig) -> tuple[Task, SuiteConfig]:
        return load_prompt(path, suite), suite
