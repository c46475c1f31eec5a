"""Suite settings: the optional `suite.yaml` beside a suite's dataset files."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pathspec
import yaml

from pytest_ohbench.core.errors import DatasetError, describe_unknown, unknown_keys_message

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


@dataclasses.dataclass
class ContainerSettings:
    """Limits and placement of task containers."""

    cpus: float = 1.0
    memory: str | int = "2g"  # "512m", "2g", or bytes
    network: str = "none"  # "none" or "host" (host loopback only)
    workdir: str = "/testbed"


@dataclasses.dataclass
class Timeouts:
    """Seconds. `task` bounds the whole item (pytest-timeout); the others one stage each."""

    task: float = 1800.0
    agent: float = 1200.0
    tests: float = 300.0


@dataclasses.dataclass
class PerfSettings:
    """How perf tasks are measured and judged (see README "Performance tasks")."""

    criterion: str = "gso"  # gso | swefficiency | sweperf
    target: float | None = None  # the criterion's bar (gso: fraction of the human's speed)
    repeats: int = 7  # timed rounds per state: the fewest the paired guard can find significant at alpha 0.01
    warmups: int = 1  # untimed rounds first
    extra_repeats: int = 5  # rounds added while the verdict is not settled (0: never) ...
    max_repeats: int = 20  # ... up to this many timed rounds
    alpha: float = 0.01  # the significance guard's level
    estimator: str = "min"  # min | median | mean | paired: how the repeats make one figure
    clock: str = "cpu"  # cpu (user + system seconds) | wall (elapsed; a script's `Execution time:` figure)
    python: str = "python3"  # the interpreter that runs the efficiency tests
    cpuset: str = "auto"  # CPUs the state containers share: auto (one per xdist worker), none, or e.g. "1"
    reveal_reference: bool = False  # name the human's commit in the prompt

    def __post_init__(self) -> None:
        criteria, estimators = ("gso", "swefficiency", "sweperf"), ("min", "median", "mean", "paired")
        if self.criterion not in criteria:
            raise ValueError(f"perf.criterion: must be one of {', '.join(criteria)}, got {self.criterion!r}")
        if self.estimator not in estimators:
            raise ValueError(f"perf.estimator: must be one of {', '.join(estimators)}, got {self.estimator!r}")
        if self.clock not in ("cpu", "wall"):
            raise ValueError(f"perf.clock: must be cpu or wall, got {self.clock!r}")
        if not isinstance(self.repeats, int) or self.repeats < 2:
            raise ValueError(f"perf.repeats: must be a whole number >= 2, got {self.repeats!r}")
        if not isinstance(self.extra_repeats, int) or self.extra_repeats < 0:
            raise ValueError(f"perf.extra_repeats: must be a whole number >= 0, got {self.extra_repeats!r}")
        if not isinstance(self.max_repeats, int) or self.max_repeats < self.repeats:
            raise ValueError(f"perf.max_repeats: must be a whole number >= repeats, got {self.max_repeats!r}")
        if not isinstance(self.warmups, int) or self.warmups < 0:
            raise ValueError(f"perf.warmups: must be a whole number >= 0, got {self.warmups!r}")
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"perf.alpha: must be between 0 and 1, got {self.alpha!r}")
        if self.target is not None and not isinstance(self.target, (int, float)):
            raise ValueError(f"perf.target: must be a number, got {self.target!r}")
        # The paired guard's smallest one-sided p of n rounds is 2**-n: fewer rounds than
        # this could never show any speedup to be significant.
        needed = math.ceil(math.log2(1 / self.alpha) + 1e-9)
        most = self.max_repeats if self.extra_repeats else self.repeats
        if most < needed:
            raise ValueError(
                f"perf: at most {most} rounds can never pass the significance guard at alpha {self.alpha:g} "
                f"(the smallest p of n paired rounds is 2^-n): need {needed} (repeats, or extra_repeats and max_repeats)"
            )
        self.cpuset = str(self.cpuset)


@dataclasses.dataclass
class SuiteConfig:
    """Defaults for every task of one suite folder."""

    root: Path
    name: str
    kind: str = "swe"  # what the folder holds: swe (JSONL rows), prompts, gittaskbench, harbor
    datasets: list[str] = dataclasses.field(default_factory=lambda: ["*.jsonl"])
    image: ImageSettings = dataclasses.field(default_factory=ImageSettings)
    test: TestSettings = dataclasses.field(default_factory=TestSettings)
    container: ContainerSettings = dataclasses.field(default_factory=ContainerSettings)
    timeouts: Timeouts = dataclasses.field(default_factory=Timeouts)
    perf: PerfSettings = dataclasses.field(default_factory=PerfSettings)


_SECTIONS = {
    "image": ImageSettings,
    "test": TestSettings,
    "container": ContainerSettings,
    "timeouts": Timeouts,
    "perf": PerfSettings,
}


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
    top_known = {"name", "kind", "datasets", *_SECTIONS}
    described = describe_unknown(data, top_known, list_known=True)
    for key, cls in _SECTIONS.items():
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
    kind = data.get("kind", "swe")
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
    )
