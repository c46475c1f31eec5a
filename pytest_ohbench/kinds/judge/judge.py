"""The one judge of test runs: every checker that runs tests runs and reads them here.

SWE rows (kinds/swe/checker.py), perf correctness and efficiency runs (kinds/perf/checker.py,
kinds/perf/measure.py) and Multi-SWE-bench fix runs (kinds/mswe/checker.py) share its rules:

1. **Results come from the runner's own report**, never from lines the code under test can
   print: with the `pytest` parser, the JUnit XML pytest writes outside the repository
   (PYTEST_ADDOPTS, after the repository's own addopts), else the parser the suite names.
2. **A skip or xfail is not a pass.** A test expected to pass (FAIL_TO_PASS, a test that
   passed at the base) passes only when its body ran and passed. PASS_TO_PASS follows the
   skip rule (kinds/judge/grading.py), the same for every kind. A skip or xfail raised by the
   code under test rather than by the test itself (judge_probe.py traces it) never passes.
3. **Nothing vanishes**: an expected test missing from the results fails, and with a
   reference run (perf: the base state) every test that ran there must run again.
4. **The exit code must agree**: a runner that exits non-zero while its results show no
   failure (or pytest writes no report at all) gives no trusted result.

What of the agent's patch is test infrastructure (set aside before any judged run) is in
kinds/judge/integrity.py; each checker cuts it before it applies the patch.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.suite import TestSettings
from pytest_ohbench.kinds.base import write_log
from pytest_ohbench.kinds.judge import probe as judge_probe
from pytest_ohbench.kinds.judge.grading import (
    DEFAULT_SKIP_RULE,
    F2P_PASSING,
    NOT_RUN,
    Grade,
    grade,
)
from pytest_ohbench.kinds.judge.integrity import Infrastructure
from pytest_ohbench.kinds.judge.logparsers import get_parser, read_pytest_junit
from pytest_ohbench.kinds.swe.official import official_report, official_view
from pytest_ohbench.runtime.base import Runtime

# Why a judged run did not resolve (the record's reason code; see core/record.py).
TESTS_FAILED = "tests_failed"
SKIP_NOT_PASS = "skip_not_pass"
UNTRUSTED_REPORT = "untrusted_report"
NO_RESULTS = "no_results"
TESTS_MISSING = "tests_missing"
ONLY_INFRASTRUCTURE = "only_infrastructure"  # everything the patch changed was set aside

FAILING = frozenset({"FAILED", "ERROR"})
# pytest's report and the judge's probe go outside the repository, where no file of the patch can be.
REPORT_DIR = "/tmp/ohbench-report"
JUNIT_PATH = f"{REPORT_DIR}/junit.xml"
PROBE_MODULE = "ohbench_judge_probe"
PROBE_SOURCE = Path(judge_probe.__file__).read_text(encoding="utf-8")
# Prepended to a pytest command: the probe is written from the environment (no extra
# round-trip), PYTEST_ADDOPTS comes after the repository's ini addopts, so the report cannot
# be moved or turned off by them; xunit1 adds each test's file, so node ids can be rebuilt.
# No user site-packages (and so no usercustomize). The image's own PYTEST_ADDOPTS is kept.
ISOLATION = (
    f"mkdir -p {REPORT_DIR} && rm -f {JUNIT_PATH} && "
    f'printf "%s" "$OHBENCH_PROBE" > {REPORT_DIR}/{PROBE_MODULE}.py && unset OHBENCH_PROBE && '
    f'export PYTHONNOUSERSITE=1 PYTHONPATH="{REPORT_DIR}${{PYTHONPATH:+:$PYTHONPATH}}" '
    'PYTEST_ADDOPTS="${PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }'
    f'-p no:cacheprovider -p {PROBE_MODULE} --junitxml={JUNIT_PATH} -o junit_family=xunit1" && '
)
ISOLATION_ENV = {"OHBENCH_PROBE": PROBE_SOURCE}


@dataclasses.dataclass
class TestRun:
    """One run of a test command: its statuses, and whether they can be used."""

    __test__ = False  # not a pytest test class, whatever its name

    statuses: dict[str, str]
    exit_code: int = 0
    timed_out: bool = False
    oom_killed: bool = False
    problem: str | None = None  # why no result is trusted (then statuses is empty)
    seconds: float = 0.0  # how long the test command ran
    # Whose results: "junit" (pytest's report), a log parser's name, or "swebench" (the
    # official eval script's per-repository parser).
    source: str = "junit"
    output: str = ""  # what the command printed (the log the official parsers read)
    raised_in: dict[str, str] = dataclasses.field(default_factory=dict)  # test -> file that raised its skip/xfail

    @property
    def usable(self) -> bool:
        """True when the run ended by itself and its results can be judged."""
        return not (self.timed_out or self.oom_killed)


def uses_junit(settings: TestSettings) -> bool:
    """True when results come from pytest's JUnit report (the `pytest` parser, no report_file)."""
    return settings.parser == "pytest" and not settings.report_file


def exit_problem(exit_code: int, statuses: dict[str, str], report_found: bool = True, runner: str = "pytest") -> str | None:
    """Why a run's results cannot be trusted, or None when they can.

    Library code the agent wrote runs inside the test process: it can print lines that look
    like the runner's, or end the process before the runner reports a failure. A runner
    exits 0 only when nothing failed; a report missing, or results that show no failure
    while the runner says otherwise, are not a result. pytest's 5 (nothing collected) leaves
    every expected test missing, which fails on its own.
    """
    if not report_found:
        return f"{runner} wrote no JUnit report (exit {exit_code}): no test result is trusted"
    failing = any(status in FAILING for status in statuses.values())
    if exit_code not in (0, 5) and not failing:
        return f"{runner} exited {exit_code} but its report shows no failure: the report is not trusted"
    return None


def run_tests(
    runtime: Runtime,
    command: str,
    settings: TestSettings,
    expected: list[str],
    timeout: float,
    log_dir: Path,
    log_name: str = "test_output.txt",
) -> TestRun:
    """Run `command` in the workspace and read its results by the rules above.

    With the `pytest` parser the statuses come from the JUnit XML pytest writes outside the
    repository (it comes back after the output, behind a random marker: no second
    round-trip), checked against pytest's exit code; the printed output is only a log.
    Another parser reads the output (or `report_file`), as the suite asked.
    """
    junit = uses_junit(settings)
    try:
        if not junit:
            get_parser(settings.parser)  # an unknown parser is the suite's error, before anything runs
    except ValueError as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"suite.yaml test.parser: {exc}") from None
    if settings.report_file:
        runtime.execute(f"rm -f {shlex.quote(settings.report_file)}")
    token = secrets.token_hex(12)
    # On its own line, so a comment in the command cannot swallow it.
    reported = f"\nohbench_code=$?; printf '\\n{token} report\\n'; cat {JUNIT_PATH} 2>/dev/null; exit $ohbench_code" if junit else ""
    result = runtime.execute(
        (ISOLATION if junit else "") + command + reported, timeout=timeout, env=ISOLATION_ENV if junit else None
    )
    output, report = result.output, None
    if junit and (at := output.rfind(f"\n{token} report\n")) >= 0:  # the last one: ours comes after the tests
        output, report = output[:at], output[at + len(token) + 9:]
    write_log(log_dir, log_name, f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{output}")
    run = TestRun({}, result.exit_code, result.timed_out, result.oom_killed, seconds=result.duration,
                  source="junit" if junit else settings.parser, output=output)
    if not run.usable:
        return run
    if junit:
        if report:
            write_log(log_dir, Path(JUNIT_PATH).name if log_name == "test_output.txt" else f"{Path(log_name).stem}.junit.xml", report)
        return read_results(run, expected, report or "")
    text = output
    if settings.report_file:
        try:
            text = runtime.read_file(settings.report_file).decode("utf-8", errors="replace")
            write_log(log_dir, Path(settings.report_file).name, text)
        except FileNotFoundError:
            text = ""
    return read_results(run, expected, text)


def read_results(run: TestRun, expected: Iterable[str], report: str) -> TestRun:
    """`run`'s statuses from what its runner left, by rules 1 and 4; the live check and an
    offline re-grade (`saved_run`) both read here.

    `report` is pytest's JUnit XML when `run.source` is "junit", else the text the parser
    named by `run.source` reads (the output, or the suite's `report_file`).
    """
    if run.source == "junit":
        found = read_pytest_junit(report, expected)
        statuses = found.statuses if found is not None else {}
        run.problem = exit_problem(run.exit_code, statuses, found is not None)
        if not run.problem and found is not None:
            run.statuses, run.raised_in = found.statuses, found.raised_in
        return run
    statuses = get_parser(run.source)(report)
    run.problem = exit_problem(run.exit_code, statuses, runner=f"the test command ({run.source} results)")
    if not run.problem:
        run.statuses = statuses
    return run


# The header run_tests writes above a test run's output: `$ command`, then this line.
_LOG_HEADER = re.compile(r"^\(exit (-?\d+), (\d+(?:\.\d+)?)s(?:, [^\n]*)?\)\n", re.MULTILINE)


def saved_run(log_dir: Path, source: str, log_name: str = "test_output.txt") -> TestRun:
    """A judged run as run_tests saved it (exit code, time, output), for an offline re-grade;
    its statuses are not read yet. OSError / ValueError when the log is missing or cut."""
    text = (log_dir / log_name).read_text(encoding="utf-8")
    header = _LOG_HEADER.search(text)
    if not text.startswith("$ ") or header is None:
        raise ValueError(f"{log_dir / log_name}: no `(exit N, Ts)` line after the command")
    return TestRun({}, int(header.group(1)), seconds=float(header.group(2)), source=source, output=text[header.end():])


def saved_report(log_dir: Path, run: TestRun, report_log: str = "") -> str:
    """The text `read_results` reads for a saved run: the JUnit report ("" when pytest wrote
    none), the saved report file, or the output."""
    name = report_log or (Path(JUNIT_PATH).name if run.source == "junit" else "")
    if not name:
        return run.output
    path = log_dir / name
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@dataclasses.dataclass
class Judgement:
    """The judge's verdict on one run: which expected tests passed, why not resolved."""

    grade: Grade
    reason: str = ""  # "" when resolved, else TESTS_FAILED, SKIP_NOT_PASS, ...
    notes: list[str] = dataclasses.field(default_factory=list)  # one line each, for the verdict
    excused: list[str] = dataclasses.field(default_factory=list)  # failures the reference state shares

    @property
    def resolved(self) -> bool:
        return self.grade.resolved

    @property
    def detail(self) -> str:
        """The notes, one line (the verdict prints the failing tests from the grade itself)."""
        return "; ".join(self.notes)


def forced_skips(run: TestRun, infrastructure: Infrastructure) -> dict[str, str]:
    """Tests whose skip or xfail the code under test raised (not a test file): test -> file."""
    return {
        test: where for test, where in run.raised_in.items()
        if run.statuses.get(test) in NOT_RUN and not infrastructure.matches(where)
    }


def _failing_split(grade_: Grade, tests: dict[str, str]) -> None:
    """Move `tests` (forced skips) from success to failure in both halves of `grade_`."""
    for half in (grade_.fail_to_pass, grade_.pass_to_pass):
        moved = [t for t in half["success"] if t in tests]
        half["success"] = [t for t in half["success"] if t not in tests]
        half["failure"] += moved


def official_grade(statuses: dict[str, str], fail_to_pass: list[str], pass_to_pass: list[str], source: str, log: str,
                   repo: str = "") -> Grade:
    """The official swebench package's grade of one run (skip rule `official`).

    `source` says whose results `statuses` are ("junit", a log parser's name, "swebench");
    `log` is what the test command printed. The package's own functions grade the results
    as its parser for that log format would have read them (kinds/swe/official.py); a
    test it counts neither way (skipped, XPASS) is in neither list, as in its report.
    """
    report: dict[str, Any] = official_report(official_view(statuses, source, log), fail_to_pass, pass_to_pass, repo)
    result = Grade(report["FAIL_TO_PASS"], report["PASS_TO_PASS"], "official")
    # By design (docs/grading.md): a FAIL_TO_PASS test passes only when its body ran and passed here too.
    for test in list(result.fail_to_pass["success"]):
        if statuses.get(test) in NOT_RUN:
            result.fail_to_pass["success"].remove(test)
            result.fail_to_pass["failure"].append(test)
    return result


def judge(
    run: TestRun,
    fail_to_pass: list[str],
    pass_to_pass: list[str],
    skip_rule: str = DEFAULT_SKIP_RULE,
    *,
    infrastructure: Infrastructure | None = None,
    repo: str = "",
) -> Judgement:
    """Grade a run against its expected tests: every one must pass (see the module's rules)."""
    if skip_rule == "official":
        result = official_grade(run.statuses, fail_to_pass, pass_to_pass, run.source, run.output, repo)
    else:
        result = grade(run.statuses, fail_to_pass, pass_to_pass, skip_rule)
    forced = forced_skips(run, infrastructure or Infrastructure())
    _failing_split(result, forced)
    return Judgement(result, *_why(run, result, forced))


def judge_against_reference(
    run: TestRun,
    reference: TestRun,
    skip_rule: str = DEFAULT_SKIP_RULE,
    *,
    infrastructure: Infrastructure | None = None,
) -> Judgement:
    """Judge a run of a whole test selection against a run of the same selection at the base.

    Every test that ran at the base must run again: one that failed there (a test the test
    patch adds) must now pass, one that passed must pass again (its body ran: a skip or
    xfail now is the change's doing), an xfail may xfail again (the skip rule decides for
    the rest); a test new in this run must not fail.
    """
    base = {t: s for t, s in reference.statuses.items() if s != "SKIPPED"}
    f2p = [t for t, s in base.items() if s in FAILING]
    p2p = [t for t, s in base.items() if s not in FAILING]
    result = grade(run.statuses, f2p, p2p, skip_rule)
    # A test whose body passed at the base passes only the same way now (as a FAIL_TO_PASS test).
    for test in list(result.pass_to_pass["success"]):
        if base[test] in F2P_PASSING and run.statuses.get(test) not in F2P_PASSING:
            result.pass_to_pass["success"].remove(test)
            result.pass_to_pass["failure"].append(test)
    new_failures = sorted(t for t, s in run.statuses.items() if t not in base and s in FAILING)
    result.fail_to_pass["failure"] += new_failures
    forced = forced_skips(run, infrastructure or Infrastructure())
    _failing_split(result, forced)
    reason, notes = _why(run, result, forced)
    missing = [t for t in base if t not in run.statuses]
    if missing and run.statuses:
        notes.insert(0, f"{len(missing)} of the {len(base)} tests that ran at the base did not run: {', '.join(missing[:5])}")
        reason = TESTS_MISSING if reason == TESTS_FAILED else reason
    return Judgement(result, reason, notes)


def excuse(judgement: Judgement, failing_there: set[str]) -> Judgement:
    """Drop the failures a reference state (the human's commit) shares: not the agent's doing."""
    for half in (judgement.grade.fail_to_pass, judgement.grade.pass_to_pass):
        judgement.excused += [t for t in half["failure"] if t in failing_there]
        half["failure"] = [t for t in half["failure"] if t not in failing_there]
    if judgement.resolved:
        judgement.reason, judgement.notes = "", []
    return judgement


def _why(run: TestRun, result: Grade, forced: dict[str, str]) -> tuple[str, list[str]]:
    """(reason code, notes) of a graded run: "" and no notes when resolved."""
    if result.resolved:
        return "", []
    if run.problem:
        return UNTRUSTED_REPORT, [run.problem]
    if not run.statuses:
        return NO_RESULTS, ["no test results could be parsed from the test output"]
    notes = []
    failing_all = [*result.fail_to_pass["failure"], *result.pass_to_pass["failure"]]
    skipped = [f"{t} ({run.statuses[t]}{', raised in ' + forced[t] if t in forced else ''})"
               for t in failing_all if run.statuses.get(t) in NOT_RUN]
    if skipped:
        notes.append(f"a skip or xfail is not a pass: {', '.join(skipped[:5])}")
        if len(skipped) == len(failing_all):
            return SKIP_NOT_PASS, notes
    return TESTS_FAILED, notes




def efficiency_problem(statuses: dict[str, str], first: list[str]) -> str | None:
    """Why one timed run of a pytest efficiency test is not a timing (None when it is).

    Every test it selects must run its body and pass (a skip or xfail takes no time), and
    the same tests must run as at the first run of the measurement (the base state's): a
    test that vanished takes no time either.
    """
    if not statuses:
        return "the efficiency test ran no test"
    not_passed = [f"{t} ({s})" for t, s in statuses.items() if s not in F2P_PASSING]
    if not_passed:
        return f"a skip, xfail or failure is not a timing: {', '.join(not_passed[:5])}"
    missing = [t for t in first if t not in statuses]
    if missing:
        return f"{len(missing)} of the {len(first)} tests of the first run did not run: {', '.join(missing[:5])}"
    return None
