"""Grading integrity: what of an agent's patch may take part in grading, and whether to trust a report.

One rule covers every way a patch could change how it is graded: paths that are *test
infrastructure* (tests and their data, conftest.py, runner configuration, import-path
hooks, modules that shadow the runner) are set aside. Their sections are cut out of the
agent's patch before it is applied, so those files stay exactly as the task image holds
them at the base commit (an agent-created one never exists), and the record names them.
Patterns use .gitignore syntax; a suite adds its own with `test.infrastructure` in
suite.yaml (`!pattern` exempts a path the defaults would catch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pathspec

from pytest_ohbench.kinds.judge.diffs import split_patch

# The shadowing modules only matter where the interpreter looks first: the working
# directory (`python -m pytest` puts it on sys.path) and a src/ layout's import root.
_RUNNER_MODULES = ("pytest", "_pytest", "py", "pluggy", "unittest")
_SHADOWS = tuple(
    pattern
    for root in ("/", "/src/")
    for module in _RUNNER_MODULES
    for pattern in (f"{root}{module}.py", f"{root}{module}/")
)

DEFAULT_INFRASTRUCTURE: tuple[str, ...] = (
    # Tests and the files they read. SWE-bench never puts such paths in a gold patch.
    "test_*.py",
    "*_test.py",
    "tests/",
    "test/",
    "testing/",
    "conftest.py",
    # pytest configuration, whole files: the check does not reinstall the package, so their
    # other sections (metadata, dependencies) play no part in the test run anyway.
    "pytest.ini",
    ".pytest.ini",
    "pytest.toml",
    ".pytest.toml",
    "tox.ini",
    "setup.cfg",
    "pyproject.toml",
    ".pytest_cache/",
    # Code the interpreter or pytest loads on its own: startup hooks, path files, entry-point
    # metadata (pytest11 plugins) of in-place installs, bytecode and compiled modules that
    # would be imported instead of the source.
    "sitecustomize.py",
    "usercustomize.py",
    "*.pth",
    "*.egg-info/",
    "*.dist-info/",
    "*.egg-link",
    "__pycache__/",
    "*.pyc",
    "*.pyo",
    "*.so",
    "*.pyd",
    *_SHADOWS,
)


@dataclasses.dataclass(frozen=True)
class Infrastructure:
    """The test-infrastructure patterns of one suite (defaults, then the suite's own)."""

    patterns: tuple[str, ...] = DEFAULT_INFRASTRUCTURE

    @classmethod
    def for_suite(cls, extra: Iterable[str] = ()) -> "Infrastructure":
        """The defaults extended by suite.yaml's `test.infrastructure` (later lines win)."""
        return cls((*DEFAULT_INFRASTRUCTURE, *extra))

    @property
    def _spec(self) -> pathspec.PathSpec:
        return _compiled(self.patterns)

    def matches(self, path: str) -> bool:
        """True when `path` (relative to the repository root) is test infrastructure."""
        return self._spec.match_file(path)


_CACHE: dict[tuple[str, ...], pathspec.PathSpec] = {}


def _compiled(patterns: tuple[str, ...]) -> pathspec.PathSpec:
    if patterns not in _CACHE:
        _CACHE[patterns] = pathspec.GitIgnoreSpec.from_lines(patterns)
    return _CACHE[patterns]


def set_aside(patch: str, infrastructure: Infrastructure) -> tuple[str, list[str]]:
    """(the patch without its test-infrastructure files, the paths set aside).

    A file section goes when any of its paths (both sides of a rename) is infrastructure,
    so moving a conftest.py away is set aside as well as writing one.
    """
    preamble, sections = split_patch(patch)
    kept, aside = [], []
    for section in sections:
        if any(infrastructure.matches(path) for path in section.paths):
            aside.extend(section.paths)
        else:
            kept.append(section.text)
    if not aside:
        return patch, []
    return (preamble + "".join(kept)) if kept else "", list(dict.fromkeys(aside))
