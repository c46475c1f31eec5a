"""The Multi-SWE-bench check: the agent's patch through the instance's fix-run.sh, its rule.

As the harness does it: in a fresh container of the instance image, the test patch goes to
/home/test.patch and the agent's patch to /home/fix.patch, `bash /home/fix-run.sh` applies
both and runs the tests, and its log is parsed into per-test statuses by the repository's
parser from the `multi-swe-bench` package (extra `pytest-ohbench[mswe]`) when it knows the
repository, else by the row's or the suite's parser (`auto` recognizes the common runners).
Resolved follows the harness's report rule (multi_swe_bench/harness/report.py): the fix run
has results, no test that passed with the test patch alone fails, something was fixed, no
anomaly, and every f2p/p2p/s2p/n2p test is in its map again (so it PASSes).

Grading integrity as for every patch check (kinds/judge/integrity.py): the agent's changes to test
infrastructure (the defaults, each language's test files below, the files the test patch
touches, suite.yaml's `test.infrastructure`) are cut from its patch before fix-run.sh applies
it, and the repository holds no history after the base commit.
"""

from __future__ import annotations

import dataclasses
import shlex
from functools import cache
from pathlib import Path
from typing import Any

from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.kinds.base import CheckContext, CheckResult, write_log
from pytest_ohbench.kinds.judge.grading import DEFAULT_SKIP_RULE, Grade
from pytest_ohbench.kinds.judge.integrity import Infrastructure, set_aside
from pytest_ohbench.kinds.judge.judge import ONLY_INFRASTRUCTURE, TESTS_FAILED, UNTRUSTED_REPORT, exit_problem
from pytest_ohbench.kinds.judge.logparsers import LogParser, get_parser
from pytest_ohbench.kinds.mswe.loader import MAP_TEST_STATUS, MultiSweSpec
from pytest_ohbench.kinds.swe.checker import OOM_KILLED, is_empty_patch, patch_files
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.workspace import strip_history

TEST_PATCH, FIX_PATCH = "/home/test.patch", "/home/fix.patch"
# Test files of the harness's languages beyond the Python-centred defaults: Go, Maven/Gradle
# layouts, JavaScript/TypeScript runners, fixtures. Rust's integration tests are in tests/.
LANGUAGE_TESTS = (
    "*_test.go", "testdata/", "src/test/", "__tests__/", "*.test.js", "*.spec.js", "*.test.ts", "*.spec.ts",
    "*.test.jsx", "*.test.tsx", "*.spec.jsx", "*.spec.tsx", "jest.config.*", ".mocharc*",
)
# checks/logparsers statuses -> the harness's stage statuses (its mapping_to_testresult).
# An xfail is not a pass, as a skip is not (kinds/judge/judge.py): no expected test gets "PASS" from it.
STAGE = {"PASSED": "PASS", "XFAIL": "SKIP", "FAILED": "FAIL", "ERROR": "FAIL", "SKIPPED": "SKIP", "XPASS": "FAIL"}


@dataclasses.dataclass
class Verdict:
    """The harness's judgement of one fix run."""

    resolved: bool
    reason: str  # "" when resolved, else the first rule the run broke
    maps: dict[str, dict[str, list[str]]]  # map name -> {"success": [...], "failure": [...]}


def verdict(spec: MultiSweSpec, fix_statuses: dict[str, str]) -> Verdict:
    """Apply the harness's rule to the fix run's statuses (PASSED/FAILED/... per test)."""
    fix = {name: STAGE.get(status, "FAIL") for name, status in fix_statuses.items()}
    run, test = spec.run_result, spec.test_result
    names = set(run) | set(test) | set(fix)
    maps = {
        key: {
            "success": [t for t in spec.maps[key] if test.get(t, "NONE") == expected and fix.get(t) == "PASS"],
            "failure": [t for t in spec.maps[key] if not (test.get(t, "NONE") == expected and fix.get(t) == "PASS")],
        }
        for key, expected in MAP_TEST_STATUS.items()
    }
    reason = ""
    if not fix:
        reason = "the fix run produced no test results"
    elif broken := sorted(n for n in names if test.get(n) == "PASS" and fix.get(n) == "FAIL"):
        reason = f"a test that passed before the fix fails after it: {broken[0]}"
    elif not any(test.get(n, "NONE") != "PASS" and fix.get(n) == "PASS" for n in names):
        reason = "no test went from failing to passing"
    elif odd := sorted(
        n for n in names if test.get(n, "NONE") in ("NONE", "SKIP") and fix.get(n) == "FAIL" and run.get(n) == "PASS"
    ):
        reason = f"anomalous: {odd[0]} passed at base, did not run with the test patch, fails after the fix"
    else:
        for key in MAP_TEST_STATUS:
            if maps[key]["failure"]:
                reason = f"{key}: {maps[key]['failure'][0]} did not pass"
                break
    return Verdict(not reason, reason, maps)


@cache
def _package_registry() -> Any:
    """The multi-swe-bench package's Instance registry (every repository imported once), or None."""
    try:
        from multi_swe_bench.harness import repos  # noqa: F401  (registers every repository)
        from multi_swe_bench.harness.image import Config
        from multi_swe_bench.harness.instance import Instance
        from multi_swe_bench.harness.pull_request import Base, PullRequest
    except ImportError:
        return None
    return Instance, PullRequest, Base, Config


def package_parser(spec: MultiSweSpec, fields: dict[str, Any]) -> LogParser | None:
    """The package's parser for this instance (by org/repo, tag or number interval), or None."""
    registry = _package_registry()
    if registry is None:
        return None
    instance_cls, pull_request, base, config = registry
    pr = pull_request(
        org=spec.org, repo=spec.repo, number=spec.number, state="", title="", body="",
        base=base(label="", ref="", sha=""), resolved_issues=[], fix_patch="", test_patch="",
        tag=str(fields.get("tag") or ""), number_interval=str(fields.get("number_interval") or ""),
    )
    try:
        instance = instance_cls.create(pr, config(need_clone=False, global_env=None, clear_env=False))
    except ValueError:
        return None  # a repository the package does not know

    def parse(text: str) -> dict[str, str]:
        result = instance.parse_log(text)
        statuses = {name: "PASSED" for name in result.passed_tests}
        statuses.update({name: "SKIPPED" for name in result.skipped_tests})
        statuses.update({name: "FAILED" for name in result.failed_tests})
        return statuses

    return parse


def choose_parser(spec: MultiSweSpec, fields: dict[str, Any], suite_parser: str) -> tuple[LogParser, str]:
    """(parser, its name): the row's, else the package's for the repository, else the suite's."""
    name = spec.parser
    if name is None:
        parser = package_parser(spec, fields)
        if parser is not None:
            return parser, f"multi-swe-bench:{spec.org}/{spec.repo}"
        name = suite_parser
    try:
        return get_parser(name), name
    except ValueError as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"log parser for {spec.org}/{spec.repo}: {exc}") from None


def infrastructure(spec: MultiSweSpec, suite_patterns: list[str]) -> Infrastructure:
    """What of the agent's patch is set aside: defaults, language test files, the test patch's files, the suite's."""
    own = [f"/{path}" for path in patch_files(spec.test_patch)]
    return Infrastructure.for_suite([*LANGUAGE_TESTS, *own, *suite_patterns])


def check_fix_run(runtime: Runtime, spec: MultiSweSpec, patch: str, parser: LogParser, parser_name: str,
                  timeout: float, log_dir: Path, skip_rule: str = DEFAULT_SKIP_RULE) -> CheckResult:
    """Write both patches, run fix-run.sh, parse and judge (in a fresh container).

    Under the skip rule `strict` the run's exit code must agree with its results, as for
    every judged run (kinds/judge/judge.py); `official` is the harness's rule alone.
    """
    runtime.write_file(TEST_PATCH, spec.test_patch if spec.test_patch.endswith("\n") else spec.test_patch + "\n")
    runtime.write_file(FIX_PATCH, patch if patch.endswith("\n") else patch + "\n")
    # fix-run.sh applies both with `git apply`: check first, so a patch that cannot apply is
    # named as such instead of surfacing as a run without results.
    check = runtime.execute(f"git apply --check {TEST_PATCH} {FIX_PATCH}", timeout=120, cwd=spec.repo_dir)
    write_log(log_dir, "apply.log", f"$ git apply --check {TEST_PATCH} {FIX_PATCH}\n(exit {check.exit_code})\n{check.output}")
    if check.exit_code != 0:
        last = last_line(check.output)
        return CheckResult(Outcome.PATCH_APPLY_FAILED, detail=f"the patch does not apply with the test patch: {last}")
    result = runtime.execute(spec.fix_command, timeout=timeout, cwd=spec.repo_dir)
    write_log(log_dir, "fix-run.log", result.output)
    write_log(log_dir, "test_output.txt", f"$ {spec.fix_command}\n(exit {result.exit_code}, {result.duration:.1f}s, parser: {parser_name})\n{result.output}")
    if result.timed_out:
        return CheckResult(Outcome.TEST_TIMEOUT, detail=f"fix-run.sh ran past {timeout:g}s")
    if result.oom_killed:
        detail = "fix-run.sh was killed for using more memory than the container has (suite.yaml container.memory)"
        return CheckResult(Outcome.UNRESOLVED, detail=detail, reason=OOM_KILLED)
    statuses = parser(result.output)
    problem = exit_problem(result.exit_code, statuses, runner="fix-run.sh") if skip_rule != "official" else None
    if problem:
        return CheckResult(Outcome.UNRESOLVED, statuses, detail=problem, reason=UNTRUSTED_REPORT,
                           details={"harness": "multi-swe-bench", "parser": parser_name, "fix_run_exit_code": result.exit_code})
    judged = verdict(spec, statuses)
    f2p = judged.maps["f2p_tests"]
    others = {kind: [t for key in ("p2p_tests", "s2p_tests", "n2p_tests") for t in judged.maps[key][kind]] for kind in ("success", "failure")}
    return CheckResult(
        Outcome.RESOLVED if judged.resolved else Outcome.UNRESOLVED,
        statuses,
        Grade(f2p, others),
        judged.reason,
        "" if judged.resolved else TESTS_FAILED,
        details={"harness": "multi-swe-bench", "parser": parser_name, "fix_run_exit_code": result.exit_code,
                 "maps": judged.maps, "reason": judged.reason},
    )


class MultiSweChecker:
    """Multi-SWE-bench instances, judged as its harness judges them."""


    def check(self, context: CheckContext) -> CheckResult:
        spec = context.task.check
        assert isinstance(spec, MultiSweSpec)
        if is_empty_patch(context.patch):
            return CheckResult(Outcome.EMPTY_PATCH, detail="the agent produced no changes")
        graded, aside = set_aside(context.patch, infrastructure(spec, context.suite.test.infrastructure))
        if aside:
            write_log(context.log_dir, "set_aside.txt", "\n".join(aside) + "\n")
        if is_empty_patch(graded):
            detail = f"the patch changes only test infrastructure, set aside: {', '.join(aside)}"
            return CheckResult(Outcome.UNRESOLVED, detail=detail, reason=ONLY_INFRASTRUCTURE, set_aside=aside)
        parser, name = choose_parser(spec, context.task.fields, context.suite.test.parser)
        with context.fresh_runtime() as runtime:
            missing = runtime.execute(f"test -f {shlex.quote(spec.fix_command.split()[-1])}", timeout=30)
            if missing.exit_code != 0:
                raise HarnessError(
                    Outcome.INFRA_ERROR,
                    f"{context.task.location}: the image has no {spec.fix_command.split()[-1]}: not a Multi-SWE-bench instance image",
                )
            # fix-run.sh runs the agent's code: it must not find the real fix in git either.
            if context.task.base_commit:
                strip_history(runtime, context.task.base_commit)
            rule = context.skip_rule or context.suite.test.skipped_p2p
            result = check_fix_run(runtime, spec, graded, parser, name, context.test_timeout, context.log_dir, rule)
        if aside:
            note = f"set aside as test infrastructure: {', '.join(aside)}"
            result.detail = "; ".join(part for part in (result.detail, note) if part)
            result.set_aside = aside
        return result
