"""The checker protocol and its registry (entry-point group `pytest_ohbench.checkers`).

A checker judges one kind of check spec (core/task.py): the patch-tests check reads a
`PatchTestsSpec`, a script check a script spec, and so on. `ohbench_outcome` asks the
registry for the checker whose `spec_type` matches the task's spec.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.kinds.judge.grading import Grade

if TYPE_CHECKING:
    from pytest_ohbench.agents.base import AgentResult
    from pytest_ohbench.core.suite import SuiteConfig
    from pytest_ohbench.core.task import CheckSpec, Task
    from pytest_ohbench.runtime.base import Runtime

ENTRY_POINT_GROUP = "pytest_ohbench.checkers"


@dataclasses.dataclass
class CheckResult:
    """What the check found: the outcome, the test statuses and the grade."""

    outcome: Outcome
    tests: dict[str, str] = dataclasses.field(default_factory=dict)
    grade: Grade | None = None
    detail: str = ""  # one line for the verdict, e.g. which apply step failed
    reason: str = ""  # for the record when the outcome alone does not say why, e.g. oom_killed
    details: dict[str, Any] = dataclasses.field(default_factory=dict)  # kind-specific, plain JSON: record.check
    set_aside: list[str] = dataclasses.field(default_factory=list)  # agent-changed test infrastructure, not graded
    flags: list[str] = dataclasses.field(default_factory=list)  # the record's flags, e.g. replay_invalid


@dataclasses.dataclass
class CheckContext:
    """Everything a checker gets for one item."""

    task: "Task"
    suite: "SuiteConfig"
    log_dir: Path
    agent: "AgentResult"
    patch: str  # the agent's patch (returned, or the workspace diff)
    agent_runtime: "Runtime | None"  # the agent's container, still running; None if the agent needed none
    # A new container of the task image at the base state, removed when the block ends;
    # `cpuset="1"` pins it to those CPUs (then without the suite's CPU quota).
    fresh_runtime: Callable[..., AbstractContextManager["Runtime"]]
    test_timeout: float
    skip_rule: str | None = None  # --ohbench-skip-rule: overrides the suite's test.skipped_p2p
    run_dir: Path | None = None  # the run folder, for what a checker measures once per run


class Checker(Protocol):
    """Judges the agent's work for tasks whose check spec is a `spec_type`."""

    spec_type: ClassVar[type["CheckSpec"]]

    def check(self, context: CheckContext) -> CheckResult: ...

    # Optional: `annotate_record(record, llm)` adds to record.check once the outcome is set.


@functools.cache  # scanning the installed distributions costs tens of ms, once per item otherwise
def checkers() -> dict[str, type[Checker]]:
    """The registered checkers by entry-point name (imported now)."""
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def checker_for(spec: "CheckSpec") -> Checker:
    """A checker for `spec`: the registered one whose spec_type is the spec's type (or a base)."""
    found = [cls for cls in checkers().values() if isinstance(spec, cls.spec_type)]
    if not found:
        raise LookupError(f"no checker registered (group {ENTRY_POINT_GROUP}) for {type(spec).__name__}")
    # The most specific spec type wins when a checker registers a base class.
    found.sort(key=lambda cls: len(cls.spec_type.__mro__), reverse=True)
    return found[0]()


def write_log(log_dir: Path, name: str, text: str) -> None:
    """One of the item's check logs (`logs/<item>/<name>`), as UTF-8."""
    (log_dir / name).write_text(text, encoding="utf-8")
