"""Domain exceptions: a harness error (pytest error) and a judged failure (pytest failure); the warning
category; the last line of a command's output that their messages quote."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pytest_ohbench.core.outcomes import Outcome


def last_line(text: str, empty: str = "no output") -> str:
    """The last non-blank line of a command's output, stripped (`empty` when there is none):
    what a one-line error message quotes of it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else empty


def describe_unknown(names: Iterable[str], known: Iterable[str], prefix: str = "", list_known: bool = False) -> list[str]:
    """`'prefix.name' (did you mean 'prefix.other'?)` for each of `names` not in `known`, sorted.

    Without a close match a name is shown alone, or with the known names when `list_known`.
    """
    choices = sorted(set(known))
    described = []
    for name in sorted(set(names) - set(choices)):
        close = difflib.get_close_matches(name, choices, n=1)
        if close:
            described.append(f"'{prefix}{name}' (did you mean '{prefix}{close[0]}'?)")
        elif list_known:
            described.append(f"'{prefix}{name}' (known: {', '.join(choices)})")
        else:
            described.append(f"'{prefix}{name}'")
    return described


def unknown_keys_message(described: list[str], what: str = "key") -> str:
    """`unknown key 'x' (...)` or `unknown keys 'x' (...), 'y' (...)`: every one of a file in one message."""
    return f"unknown {what}{'s' if len(described) > 1 else ''} {', '.join(described)}"


class OhbenchError(Exception):
    """Base class of the plugin's exceptions."""


class HarnessError(OhbenchError):
    """The harness could not judge the task (build, agent or infrastructure trouble).

    Raised from fixtures, so pytest reports it as an error, not a failure.
    """

    def __init__(self, outcome: Outcome, message: str, failure_class: str = "") -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.failure_class = failure_class  # an infrastructure cause (core/failures.py), "" for none


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
