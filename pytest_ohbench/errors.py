"""Domain exceptions: a harness error (pytest error) and a judged failure (pytest failure); the warning
category; the last line of a command's output that their messages quote."""

from __future__ import annotations

import pytest

from pytest_ohbench.outcomes import Outcome


def last_line(text: str, empty: str = "no output") -> str:
    """The last non-blank line of a command's output, stripped (`empty` when there is none):
    what a one-line error message quotes of it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else empty


class OhbenchError(Exception):
    """Base class of the plugin's exceptions."""


class HarnessError(OhbenchError):
    """The harness could not judge the task (build, agent or infrastructure trouble).

    Raised from fixtures, so pytest reports it as an error, not a failure.
    """

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class TaskFailed(OhbenchError):
    """The check judged the agent's work and it is not resolved; `verdict` is printed."""

    def __init__(self, verdict: str) -> None:
        super().__init__(verdict)
        self.verdict = verdict


class DatasetError(OhbenchError):
    """A dataset row or suite file that cannot be loaded; the message names file and line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class OhbenchWarning(pytest.PytestWarning):
    """Input the harness can run but that is probably not what was meant (empty dataset, typos)."""
