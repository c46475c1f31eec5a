"""Suite settings: the optional `suite.yaml` beside a suite's dataset files."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pathspec
import yaml

from pytest_ohbench.core.errors import DatasetError, describe_unknown, unknown_keys_message
from pytest_ohbench.core.kinds import ROWS_SUITE
from pytest_ohbench.core.kinds import sections as kind_sections

SUITE_FILE = "suite.yaml"
# How a skipped PASS_TO_PASS test grades (kinds/judge/grading.py, kinds/judge/judge.py).
SKIP_RULES = ("strict", "official")
DEFAULT_SKIP_RULE = "strict"
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def memory_bytes(value: str | int) -> int:
    """A memory size as Docker takes it (512m, 2g, 1.5g, or bytes); ValueError otherwise."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"invalid memory size {value!r} (expected e.g. 512m or 2g)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def validate_patterns(patterns: Sequence[object]) -> str | None:
    """Why `patterns` are not usable as test.infrastructure globs, or None when they are."""
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            return f"expected a list of non-empty glob strings, got {pattern!r}"
    try:
        pathspec.GitIgnoreSpec.from_lines([str(p) for p in patterns])
    except (ValueError, TypeError) as exc:
        return f"invalid pattern: {exc}"
    return None


@dataclasses.dataclass
class ImageSettings:
    """Where a task's image comes from, in resolution order."""

    template: str | None = None  # e.g. "swebench/sweb.eval.x86_64.{instance_id}"
    tar: str | None = None  # `docker load -i` this file (relative to the suite) if missing
    pull: bool = True  # try `docker pull` before building
    dockerfile: str | None = None  # build from this Dockerfile (relative to the suite)
    context: str = "."  # build context, a template relative to the suite
    base: str = "ohbench/base:trixie"  # passed as build arg BASE_IMAGE
    build_args: dict[str, str] = dataclasses.field(default_factory=dict)  # values are templates


@dataclasses.dataclass
class TestSettings:
    """How the checker runs and reads the instance's tests."""

    command: str = "python3 -m pytest -rA -p no:cacheprovider {test_files}"
    # A name in the pytest_ohbench.log_parsers registry. With `pytest` (and no report_file)
    # results come from the JUnit XML pytest writes outside the repository, not from the output.
    parser: str = "pytest"
    report_file: str | None = None  # a file in the container the parser reads (e.g. JUnit XML)
    # Globs (.gitignore syntax) of test infrastructure beyond the defaults of
    # kinds/judge/integrity.py: the agent's changes to them are set aside before grading.
    infrastructure: list[str] = dataclasses.field(default_factory=list)
    skipped_p2p: str = "strict"  # or "official": the swebench package's verdict on the same log (kinds/judge/grading.py)
    # The keys suite.yaml set itself: a suite's own command or parser beats a dataset's
    # official one (kinds/swe/official.py); a default does not. Not a suite.yaml key.
    given: frozenset[str] = dataclasses.field(default=frozenset(), metadata={"internal": True})

    def __post_init__(self) -> None:
        if self.skipped_p2p not in SKIP_RULES:
            raise ValueError(f"test.skipped_p2p: expected one of {', '.join(SKIP_RULES)}, got {self.skipped_p2p!r}")
        if isinstance(self.infrastructure, str) or not isinstance(self.infrastructure, list):
            raise ValueError(f"test.infrastructure: expected a list of globs, got {self.infrastructure!r}")
        problem = validate_patterns(self.infrastructure)
        if problem:
            raise ValueError(f"test.infrastructure: {problem}")


# container.network: "none": no network; an agent that calls its LLM from inside its container
# reaches the run's gateway and nothing else (sealed). "host": every container of the suite
# shares the host's network (its services on 127.0.0.1, the internet where the host has it).
NETWORKS = ("none", "host")

# Every task container's time zone, hash seed and locale, so that two runs of one task see the
# same clock zone, set and dict orders and string collation (suite.yaml container.env changes them).
REPRODUCIBLE_ENV = {"TZ": "UTC", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@dataclasses.dataclass
class ContainerSettings:
    """Limits and placement of task containers."""

    cpus: float = 1.0
    memory: str | int = "2g"  # "512m", "2g", or bytes
    network: str = "none"  # one of NETWORKS
    workdir: str = "/testbed"
    # Over REPRODUCIBLE_ENV, key by key; a null value leaves that variable to the image.
    env: dict[str, str | None] = dataclasses.field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        """Every task container's environment: the fixed defaults, then the suite's `env`."""
        merged: dict[str, str | None] = {**REPRODUCIBLE_ENV, **self.env}
        return {key: value for key, value in merged.items() if value is not None}

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(
                f"container.network: expected none (sealed: an agent reaches the run's LLM gateway only) "
                f"or host (the host's network, the internet included), got {self.network!r}"
            )


@dataclasses.dataclass
class Timeouts:
    """Seconds. `task` bounds the whole item (pytest-timeout); the others one stage each."""

    task: float = 1800.0
    agent: float = 1200.0
    tests: float = 300.0


@dataclasses.dataclass
class SuiteConfig:
    """Defaults for every task of one suite folder."""

    root: Path
    name: str
    kind: str = ROWS_SUITE  # what the folder holds: JSONL rows, or a folder kind's suites (prompts, gittaskbench, harbor)
    datasets: list[str] = dataclasses.field(default_factory=lambda: ["*.jsonl"])
    image: ImageSettings = dataclasses.field(default_factory=ImageSettings)
    test: TestSettings = dataclasses.field(default_factory=TestSettings)
    container: ContainerSettings = dataclasses.field(default_factory=ContainerSettings)
    timeouts: Timeouts = dataclasses.field(default_factory=Timeouts)
    # The task kinds' own sections (core/kinds.py), e.g. `perf`: key -> its settings object.
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)

    def section(self, key: str) -> Any:
        """A kind's section of suite.yaml (its defaults when the file has none)."""
        if key not in self.sections:
            self.sections[key] = kind_sections()[key]()
        return self.sections[key]


_SECTIONS = {
    "image": ImageSettings,
    "test": TestSettings,
    "container": ContainerSettings,
    "timeouts": Timeouts,
}


def _all_sections() -> dict[str, type]:
    """The harness's sections and the registered kinds' (key -> settings dataclass)."""
    return {**_SECTIONS, **kind_sections()}


_TYPE_NAMES = {str: "a string", float: "a number", int: "a whole number", bool: "true or false"}


def _describe(hint: Any) -> str:
    """What a value of type `hint` is called in an error: "a number", "a string or null"..."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = " or ".join(_describe(arg) for arg in args if arg is not type(None))
        return f"{named} or null" if type(None) in args else named
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin is dict:
        return "a mapping"
    if origin is list:
        return "a list of strings" if args == (str,) else "a list"
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _fits(value: Any, hint: Any) -> bool:
    """True when `value` (from YAML) has the type `hint` (mapping values are checked apart)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is dict:
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value) if args else isinstance(value, list)
    if hint is type(None):
        return value is None
    if hint in (float, int):  # YAML `cpus: 1` is an int where a float is wanted; a bool is neither
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _check(path: Path, key: str, value: Any, hint: Any) -> None:
    """Refuse a wrongly typed value at load, one line naming the key (not a traceback per item)."""
    if not _fits(value, hint):
        raise DatasetError(f"{path}: {key}: expected {_describe(hint)}, got {value!r}")
    if typing.get_origin(hint) is dict:
        value_hint = typing.get_args(hint)[1]
        for name, item in value.items():
            _check(path, f"{key}.{name}", item, value_hint)


def _section(path: Path, key: str, cls: type, data: Any) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: '{key}' must be a mapping")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        _check(path, f"{key}.{name}", value, hints[name])
    if key == "container" and isinstance(data.get("memory"), str):
        try:
            memory_bytes(data["memory"])  # what the runtime passes to the engine
        except ValueError:
            raise DatasetError(
                f"{path}: container.memory: invalid memory size {data['memory']!r} (expected e.g. 512m or 2g)"
            ) from None
    try:
        section = cls(**data)
    except ValueError as exc:  # a section's own check of its values
        raise DatasetError(f"{path}: {exc}") from None
    if "given" in {f.name for f in dataclasses.fields(cls)}:
        section.given = frozenset(data)
    return section


def _known_keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _unknown_keys(path: Path, data: dict[str, Any]) -> None:
    """Every unknown key of the file, at any level, in one error (not one key per run)."""
    sections = _all_sections()
    top_known = {"name", "kind", "datasets", *sections}
    described = describe_unknown(data, top_known, list_known=True)
    for key, cls in sections.items():
        if isinstance(data.get(key), dict):
            described += describe_unknown(data[key], _known_keys(cls), prefix=f"{key}.", list_known=True)
    if described:
        raise DatasetError(f"{path}: {unknown_keys_message(described)}")


def load_suite(directory: Path) -> SuiteConfig | None:
    """The suite configured in `directory`, or None when it has no suite.yaml."""
    path = directory / SUITE_FILE
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DatasetError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a mapping at the top level")
    _unknown_keys(path, data)
    kind = data.get("kind", ROWS_SUITE)
    if not isinstance(kind, str) or not kind.strip():
        raise DatasetError(f"{path}: 'kind' must be a name such as swe or prompts, got {kind!r}")
    datasets = data.get("datasets", ["*.jsonl"])
    if isinstance(datasets, str):
        datasets = [datasets]
    _check(path, "datasets", datasets, list[str])
    if data.get("name") is not None:
        _check(path, "name", data["name"], str)
    return SuiteConfig(
        root=directory,
        name=str(data.get("name") or directory.name),
        kind=kind,
        datasets=list(datasets),
        **{key: _section(path, key, cls, data.get(key)) for key, cls in _SECTIONS.items()},
        sections={key: _section(path, key, cls, data.get(key)) for key, cls in kind_sections().items()},
    )
