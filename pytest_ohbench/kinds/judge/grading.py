"""Grade per-test statuses against FAIL_TO_PASS / PASS_TO_PASS.

A FAIL_TO_PASS test passes only when its body ran and passed (PASSED, or XPASS from a
non-strict xfail marker): SKIPPED and XFAIL never count, whatever the rule, since library
code can call `pytest.skip` / `pytest.xfail` or raise SkipTest when it sees a test's data.

PASS_TO_PASS follows a skip rule:
- `strict` (default): PASSED, XPASS and XFAIL pass; SKIPPED fails, since a skip the
  agent's change introduced must not count as keeping a test green;
- `official`: the verdict of the official `swebench` package (its get_eval_tests_report and
  get_resolution_status) on the results as its parser for that log format sees them
  (kinds/judge/judge.py `official_grade`): a skipped test passes where that parser names it (go test -v, the
  per-repository parsers of django or sympy) and is missing, so failing, where it does not
  (pytest's -rA summary prints no test id for a skip, cargo's parser reads ok/FAILED only).
  By design the FAIL_TO_PASS rule above holds there too.
A test missing from the results fails under both.
"""

from __future__ import annotations

import dataclasses

from pytest_ohbench.core.suite import DEFAULT_SKIP_RULE, SKIP_RULES

F2P_PASSING = frozenset({"PASSED", "XPASS"})
P2P_PASSING = {
    "strict": frozenset({"PASSED", "XPASS", "XFAIL"}),
    "official": frozenset({"PASSED", "XPASS", "XFAIL", "SKIPPED"}),
}
# Statuses of a test that did not run to a verdict of its own: named in the verdict.
NOT_RUN = frozenset({"SKIPPED", "XFAIL"})


@dataclasses.dataclass
class Grade:
    """Which expected tests passed and failed; resolved iff none failed."""

    fail_to_pass: dict[str, list[str]]
    pass_to_pass: dict[str, list[str]]
    skip_rule: str = DEFAULT_SKIP_RULE

    @property
    def resolved(self) -> bool:
        return not self.fail_to_pass["failure"] and not self.pass_to_pass["failure"]


def _split(tests: list[str], statuses: dict[str, str], passing: frozenset[str]) -> dict[str, list[str]]:
    success = [t for t in tests if statuses.get(t) in passing]
    failure = [t for t in tests if statuses.get(t) not in passing]
    return {"success": success, "failure": failure}


def grade(
    statuses: dict[str, str], fail_to_pass: list[str], pass_to_pass: list[str], skip_rule: str = DEFAULT_SKIP_RULE
) -> Grade:
    """Every F2P and P2P test must pass for the instance to be resolved."""
    if skip_rule not in P2P_PASSING:
        raise ValueError(f"unknown skip rule {skip_rule!r} (known: {', '.join(SKIP_RULES)})")
    return Grade(
        _split(fail_to_pass, statuses, F2P_PASSING),
        _split(pass_to_pass, statuses, P2P_PASSING[skip_rule]),
        skip_rule,
    )


def failing_lines(grade_: Grade) -> list[str]:
    """`FAIL_TO_PASS failing (1/3): a, b` (and PASS_TO_PASS), for the halves with failures."""
    lines = []
    for label, half in (("FAIL_TO_PASS", grade_.fail_to_pass), ("PASS_TO_PASS", grade_.pass_to_pass)):
        if half["failure"]:
            total = len(half["failure"]) + len(half["success"])
            lines.append(f"{label} failing ({len(half['failure'])}/{total}): {', '.join(half['failure'][:5])}")
    return lines
