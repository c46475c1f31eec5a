"""The checker protocol: how a kind's checker is called, with what, and what it returns.

Each task kind (core/kinds.py) names its checker; it reads its own kind of check spec
(core/task.py): the patch-tests check a `PatchTestsSpec`, a script check a script spec, and
so on. `ohbench_outcome` asks the kind of the task for its checker (`checker_for`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_ohbench.core.kinds import kind_named
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, failure_reason
from pytest_ohbench.kinds.judge.grading import Grade, failing_lines

if TYPE_CHECKING:
    from pytest_ohbench.agents.base import AgentResult
    from pytest_ohbench.core.suite import SuiteConfig
    from pytest_ohbench.core.task import Task
    from pytest_ohbench.runtime.base import Runtime

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
    # Which CPUs timing runs may be pinned to, by the runtime (setting: auto, none or a cpuset).
    pinning: Callable[[str], dict[str, Any]] = lambda setting: {"cpuset": None, "pinned": False}


class Checker(Protocol):
    """Judges the agent's work for the tasks of one kind."""

    def check(self, context: CheckContext) -> CheckResult: ...

    # Optional: `prestart` (True: judges in a fresh container, worth starting ahead),
    # `prepare_ahead(runtime, task)` (work on that container before it is handed out) and
    # `annotate_record(record, llm)` (adds to record.check once the outcome is set) and
    # `regrade(record, log_dir, skip_rule)` (the CheckResult its saved logs give offline, or
    # None when they cannot be judged again: python -m pytest_ohbench regrade).


def checker_for(task: "Task") -> Checker:
    """The checker of the task's kind; LookupError for a kind that is not installed."""
    checker: Checker = kind_named(task.kind).checker()
    return checker


def record_check(record: TaskRecord, result: CheckResult) -> None:
    """Put a check's result in the item's record and set its outcome (the live check and an
    offline re-grade both record here)."""
    record.tests, record.check = result.tests, result.details
    # The record's reason names the failing tests too (the terminal prints them from the grade).
    failing = failing_lines(result.grade) if result.grade is not None else []
    record.reason = failure_reason(result.outcome, result.reason, "; ".join([*failing, result.detail] if result.detail else failing))
    record.set_aside, record.flags = result.set_aside, result.flags
    if result.grade is not None:
        record.fail_to_pass, record.pass_to_pass = result.grade.fail_to_pass, result.grade.pass_to_pass
    record.set_outcome(result.outcome)


def write_log(log_dir: Path, name: str, text: str) -> None:
    """One of the item's check logs (`logs/<item>/<name>`), as UTF-8."""
    (log_dir / name).write_text(text, encoding="utf-8")
