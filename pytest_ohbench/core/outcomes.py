"""The one outcome every item ends with, and how each maps onto pytest."""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    """Outcome of one task. Judged outcomes are pass/fail; harness outcomes are errors."""

    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    EMPTY_PATCH = "empty_patch"
    PATCH_APPLY_FAILED = "patch_apply_failed"
    TEST_TIMEOUT = "test_timeout"
    AGENT_TIMEOUT = "agent_timeout"
    # The task's or the run's budget ran out before the agent was done (judged, fail).
    BUDGET_EXCEEDED = "budget_exceeded"
    BUILD_ERROR = "build_error"
    AGENT_ERROR = "agent_error"
    INFRA_ERROR = "infra_error"
    # Never started (budget spent, run interrupted); rerun on resume.
    NOT_RUN = "not_run"

    @property
    def judged(self) -> bool:
        """True when the check ran and judged the agent's work (pass or fail)."""
        return self in JUDGED

    @property
    def harness_error(self) -> bool:
        """True when the harness could not judge: a pytest error, retried and resumed."""
        return self in HARNESS_ERRORS

    def __str__(self) -> str:
        return self.value


JUDGED = frozenset(
    {
        Outcome.RESOLVED,
        Outcome.UNRESOLVED,
        Outcome.EMPTY_PATCH,
        Outcome.PATCH_APPLY_FAILED,
        Outcome.TEST_TIMEOUT,
        Outcome.AGENT_TIMEOUT,
        Outcome.BUDGET_EXCEEDED,
    }
)
HARNESS_ERRORS = frozenset({Outcome.BUILD_ERROR, Outcome.AGENT_ERROR, Outcome.INFRA_ERROR})
