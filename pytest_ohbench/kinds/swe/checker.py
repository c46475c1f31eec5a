"""The patch check: set test infrastructure aside, apply the agent's patch, reset and apply
the test patch, run the tests isolated from what the agent could plant, grade.

Whose test command and parser: the row's `test_command`, else suite.yaml's `test.command` /
`test.parser` when it sets them, else the official SWE-bench harness's for a row whose repo
and version it knows (kinds/swe/official.py), else the suite's defaults (pytest).

See kinds/judge/integrity.py for what counts as test infrastructure and why a report is or is
not trusted.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
from pathlib import Path
from typing import Any, ClassVar

import unidiff

from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import DEFAULT_SKIP_RULE, TestSettings
from pytest_ohbench.core.task import PatchTestsSpec, Task
from pytest_ohbench.kinds.base import CheckContext, CheckResult, write_log
from pytest_ohbench.kinds.judge.diffs import split_patch
from pytest_ohbench.kinds.judge.integrity import Infrastructure, set_aside
from pytest_ohbench.kinds.judge.judge import TestRun, exit_problem, judge, read_results, run_tests, saved_report, saved_run
from pytest_ohbench.kinds.swe.official import OfficialPlan, official_plan, wants_official
from pytest_ohbench.runtime.base import Runtime, host_path
from pytest_ohbench.runtime.workspace import STRIP_HISTORY

OOM_KILLED = "oom_killed"  # the record's reason when the tests ran out of memory
PATCH_PATH = "/tmp/ohbench_agent.patch"
TEST_PATCH_PATH = "/tmp/ohbench_test.patch"
# The SWE-bench harness's order: strict, then partial with rejects, then fuzzy.
APPLY_COMMANDS = (
    f"git apply --verbose {PATCH_PATH}",
    f"git apply --verbose --reject {PATCH_PATH}",
    f"patch --batch --fuzz=5 -p1 -i {PATCH_PATH}",
)

def _strip_prefix(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def patch_files(patch: str) -> list[str]:
    """Paths a unified diff touches, in order, without duplicates (quoted paths too).

    The new side names the file, except for deletions, where only the old side does.
    """
    try:
        files = unidiff.PatchSet(patch)
    except unidiff.UnidiffParseError:
        return []
    names = [_strip_prefix(f.source_file if f.is_removed_file else f.target_file) for f in files]
    return list(dict.fromkeys(name for name in names if name and name != "/dev/null"))


def _touched_files(patch: str) -> list[str]:
    """Every path a diff writes or removes (both sides of renames), even from a corrupt diff."""
    return list(dict.fromkeys(path for s in split_patch(patch)[1] for path in s.paths))


def is_empty_patch(patch: str | None) -> bool:
    """True when there is nothing to apply."""
    return not patch or not patch.strip()


def _revert_files_command(files: list[str]) -> str:
    """Shell command putting `files` back as in HEAD (deleting those HEAD lacks), rejects too."""
    quoted = " ".join(shlex.quote(f) for f in files) or "''"
    return (
        f"for f in {quoted}; do rm -f -- \"$f.rej\" \"$f.orig\"; "
        'if git cat-file -e HEAD:"$f" 2>/dev/null; then git checkout -q HEAD -- "$f"; '
        'else rm -f -- "$f"; fi; done; true'
    )


def apply_agent_patch(runtime: Runtime, patch: str, log_dir: Path) -> tuple[str | None, str]:
    """Apply `patch` alone in the workspace: (the command that worked or None, why the first failed).

    For checks that prepare their containers step by step (perf); the patch check does the
    same attempts inside its one preparation script. Every attempt's output is in apply.log.
    """
    runtime.write_file(PATCH_PATH, patch if patch.endswith("\n") else patch + "\n")
    patch_path = host_path(runtime, PATCH_PATH)
    log = []
    cause = ""
    for command in APPLY_COMMANDS:
        result = runtime.execute(command.replace(PATCH_PATH, patch_path), timeout=120)
        log.append(f"$ {command}\n(exit {result.exit_code})\n{result.output}")
        if result.exit_code == 0:
            write_log(log_dir, "apply.log", "\n".join(log))
            return command, ""
        cause = cause or f"{command.split(' --')[0]}: {last_line(result.output)}"
        # Undo partial work (--reject leaves hunks applied) before the next attempt; only
        # the patch's own files, since images may hold untracked build products.
        runtime.execute(_revert_files_command(_touched_files(patch)), timeout=120)
    write_log(log_dir, "apply.log", "\n".join(log))
    return None, cause


# One script prepares the check container (one round-trip instead of five): strip the
# history after the base commit, apply the agent's patch with each command in turn (undoing
# a failed attempt's partial work, only the patch's own files), put the test files back to
# base and apply the test patch. Each step's output ends with a line `<token> <step> <exit>`;
# the token is random per check, so no output can fake a step's end.
# $1 token, $2 base commit ("" for none: no strip, or already stripped before the container
# was handed out), $3 1 when there is an agent patch. Patches small enough to travel in the
# command's environment ($WRITE_* with their paths in $PATH_*) are written here, saving the
# archive upload's round-trip.
PREPARE = r"""
set -u
token=$1; base=$2; has_patch=$3
mark() { printf '\n%s %s %s\n' "$token" "$1" "$2"; }
for name in AGENT TEST; do
  eval "given=\${WRITE_$name+x}"
  if [ -n "$given" ]; then eval 'printf "%s" "$WRITE_'$name'" > "$PATH_'$name'"' || exit 0; fi
done
if [ -n "$base" ]; then
  bash -c "$STRIP" strip "$base" 2>&1; code=$?; mark strip $code
  [ $code = 0 ] || exit 0
fi
if [ "$has_patch" = 1 ]; then
  applied=
  for step in 0 1 2; do
    eval "command=\$APPLY_$step"
    bash -c "$command" 2>&1; code=$?; mark apply$step $code
    if [ $code = 0 ]; then applied=1; break; fi
    bash -c "$REVERT" >/dev/null 2>&1
  done
  [ -n "$applied" ] || exit 0
fi
bash -c "$RESTORE && git apply --verbose $TEST_PATCH" 2>&1; mark test_patch $?
"""
PREPARE_TIMEOUT = 600 + 4 * 120  # the history strip, then three applies and the test patch (as when run one by one)
ENV_FILE_LIMIT = 48 * 1024  # bytes of a patch passed in the environment (one argument is at most 128 KiB)
AHEAD_KEY = "patch_check"  # the check's work in DockerRuntime.ahead


def _as_file(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _fits_env(text: str) -> bool:
    """True when `text` can travel as an environment value (no NUL, small)."""
    return "\0" not in text and len(text.encode()) <= ENV_FILE_LIMIT


def prepare_ahead(runtime: Runtime, task: Task) -> None:
    """Work on a fresh check container that needs nothing of the agent's, done before it is
    handed out (while the agent runs): the history strip (also the channel's first command,
    which costs the most) and the upload of a test patch too big for the environment. prepare_check finds it in
    `runtime.ahead`; if anything here fails it does the work itself."""
    spec = task.check
    if not isinstance(spec, PatchTestsSpec) or not hasattr(runtime, "ahead"):
        return
    done: dict[str, Any] = {}
    if task.base_commit:
        result = runtime.execute(f"bash -c {shlex.quote(STRIP_HISTORY)} strip {shlex.quote(task.base_commit)}", timeout=600)
        if result.timed_out:
            return
        done["strip"] = (task.base_commit, result.exit_code, result.output)
    else:
        runtime.execute("true", timeout=60)  # the channel's first command costs the most: pay it now
    if not _fits_env(spec.test_patch):  # else it travels with the preparation script, at no cost
        runtime.write_file(TEST_PATCH_PATH, _as_file(spec.test_patch))
        done["test_patch"] = spec.test_patch
    runtime.ahead[AHEAD_KEY] = done


@dataclasses.dataclass
class Prepared:
    """What the preparation script did: which apply command worked, why the first failed, the test files."""

    applied: str | None  # the command that applied the agent's patch (None: none did, or no patch)
    cause: str = ""  # the strict `git apply`'s last line when no command applied the patch
    test_files: list[str] = dataclasses.field(default_factory=list)


def _steps(output: str, token: str) -> list[tuple[str, int, str]]:
    """(step, exit code, its output) from the preparation script's marked output."""
    steps = []
    rest = output
    pattern = re.compile(rf"\n{token} (\w+) (-?\d+)\n")
    while (match := pattern.search(rest)) is not None:
        steps.append((match.group(1), int(match.group(2)), rest[: match.start()]))
        rest = rest[match.end():]
    return steps


def _restore_tests_command(task: Task, files: list[str]) -> str:
    """Put `files` back as at the base commit; files the test patch creates do not exist there:
    remove whatever the agent put in their place."""
    quoted = " ".join(shlex.quote(f) for f in files)
    base = shlex.quote(task.base_commit)
    return (
        f"for f in {quoted}; do "
        f'if git cat-file -e {base}:"$f" 2>/dev/null; '
        f'then git checkout {base} -- "$f"; else rm -f -- "$f"; fi; done'
    )


def prepare_check(runtime: Runtime, task: Task, spec: PatchTestsSpec, patch: str, log_dir: Path) -> Prepared:
    """Strip the history, apply `patch` (if any) and the test patch, in one script.

    Both patches go in with one archive. The apply commands are the SWE-bench harness's,
    in its order; apply.log and test_patch.log hold each step's output, as before.
    """
    has_patch = not is_empty_patch(patch)
    files = patch_files(spec.test_patch)
    patch_path, test_patch_path = host_path(runtime, PATCH_PATH), host_path(runtime, TEST_PATCH_PATH)
    ahead: dict[str, Any] = getattr(runtime, "ahead", {}).pop(AHEAD_KEY, {})
    stripped = ahead.get("strip")
    if stripped is not None and (stripped[0] != task.base_commit or stripped[1] != 0):
        stripped = None  # a failed strip is done again here, to fail as it always has
    env: dict[str, str] = {}
    uploads: dict[str, str | bytes] = {}
    for name, path, text, wanted in (
        ("AGENT", PATCH_PATH, patch, has_patch),
        ("TEST", TEST_PATCH_PATH, spec.test_patch, ahead.get("test_patch") != spec.test_patch),
    ):
        if not wanted:
            continue
        if _fits_env(text):
            env[f"WRITE_{name}"], env[f"PATH_{name}"] = _as_file(text), host_path(runtime, path)
        else:
            uploads[path] = _as_file(text)
    if uploads:
        runtime.write_files(uploads)
    commands = [command.replace(PATCH_PATH, patch_path) for command in APPLY_COMMANDS]
    env |= {
        "STRIP": STRIP_HISTORY,
        "REVERT": _revert_files_command(_touched_files(patch)) if has_patch else "true",
        "RESTORE": _restore_tests_command(task, files),
        "TEST_PATCH": shlex.quote(test_patch_path),
        **{f"APPLY_{index}": command for index, command in enumerate(commands)},
    }
    token = secrets.token_hex(12)
    strip_base = "" if stripped is not None else task.base_commit or ""
    script = f"bash -c {shlex.quote(PREPARE)} prepare {token} {shlex.quote(strip_base)} {int(has_patch)}"
    result = runtime.execute(script, timeout=PREPARE_TIMEOUT, env=env)
    steps = _steps(result.output, token)
    if stripped is not None:  # done before the container was handed out: judged as if done here
        steps.insert(0, ("strip", stripped[1], stripped[2]))
    done = {name for name, _, _ in steps}
    if result.timed_out:
        raise HarnessError(Outcome.INFRA_ERROR, f"preparing the check container ran past {PREPARE_TIMEOUT}s")
    for name, code, output in steps:
        if name == "strip" and code != 0:
            last = last_line(output, f"exit {code}")
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot strip the workspace's git history after the base commit: {last}")
    applied: str | None = None
    cause = ""
    if has_patch:
        log = []
        for name, code, output in steps:
            if name.startswith("apply"):
                command = APPLY_COMMANDS[int(name[5:])]
                log.append(f"$ {command}\n(exit {code})\n{output}")
                if code == 0:
                    applied = command
                cause = cause or (f"{command.split(' --')[0]}: {last_line(output)}" if code else "")
        write_log(log_dir, "apply.log", "\n".join(log))
        if applied is None:
            if "apply2" not in done:  # the script stopped before every command was tried: not a verdict
                raise HarnessError(Outcome.INFRA_ERROR, f"the check's preparation ended early: {last_line(result.output)}")
            return Prepared(None, cause)
    test_step = next(((code, output) for name, code, output in steps if name == "test_patch"), None)
    if test_step is None:
        raise HarnessError(Outcome.INFRA_ERROR, f"{task.location}: the check's preparation ended early: {last_line(result.output)}")
    code, output = test_step
    write_log(log_dir, "test_patch.log", output)
    if code != 0:
        last = last_line(output)
        raise HarnessError(Outcome.INFRA_ERROR, f"{task.location}: test_patch does not apply at base_commit: {last}")
    return Prepared(applied, cause, files)


def _test_command(task: Task, spec: PatchTestsSpec, settings: TestSettings, test_files: list[str]) -> str:
    return (spec.test_command or settings.command).format(
        test_files=" ".join(shlex.quote(f) for f in test_files), **task.template_fields()
    )


def choose_official(task: Task, spec: PatchTestsSpec, settings: TestSettings, workdir: str) -> OfficialPlan | None:
    """The official harness's plan, unless the row or suite.yaml chose its own command or parser."""
    return official_plan(task, spec, workdir) if wants_official(task, settings) else None


def run_official(runtime: Runtime, plan: OfficialPlan, timeout: float, log_dir: Path, skip_rule: str) -> TestRun:
    """Run the official eval script's test part; statuses by its per-repository parser.

    Under `strict` its exit code must agree with them, as every run's (kinds/judge/judge.py);
    under `official` nothing but the package's parser counts, as in its harness.
    """
    result = runtime.execute(plan.command, timeout=timeout)
    header = f"$ {plan.command}\n(exit {result.exit_code}, {result.duration:.1f}s, rules: {plan.source})\n"
    write_log(log_dir, "test_output.txt", header + result.output)
    run = TestRun({}, result.exit_code, result.timed_out, result.oom_killed, seconds=result.duration,
                  source="swebench", output=result.output)
    if not run.usable:
        return run
    return official_results(run, plan.parse(result.output), skip_rule)


def official_results(run: TestRun, statuses: dict[str, str], skip_rule: str) -> TestRun:
    """`run`'s statuses as the official parser read them: under `strict` its exit code must
    agree with them (kinds/judge/judge.py); under `official` nothing but that parser counts."""
    run.problem = exit_problem(run.exit_code, statuses, runner="the official test command") if skip_rule != "official" else None
    if not run.problem:
        run.statuses = statuses
    return run


def run_check_tests(
    runtime: Runtime, task: Task, spec: PatchTestsSpec, settings: TestSettings, test_files: list[str], timeout: float,
    log_dir: Path, skip_rule: str,
) -> TestRun:
    """The instance's tests: the official plan for a row the SWE-bench harness knows, else the
    row's or suite's command (see the module docstring), read by the judge's rules."""
    official = choose_official(task, spec, settings, runtime.workdir)
    if official is not None:
        return run_official(runtime, official, timeout, log_dir, skip_rule)
    command = _test_command(task, spec, settings, test_files)
    return run_tests(runtime, command, settings, [*spec.fail_to_pass, *spec.pass_to_pass], timeout, log_dir)


def check_patch(
    runtime: Runtime,
    task: Task,
    patch: str,
    settings: TestSettings,
    test_timeout: float,
    log_dir: Path,
    skip_rule: str | None = None,
) -> CheckResult:
    """Judge `patch` for `task` in a fresh workspace at the base commit.

    `skip_rule` (strict/official) overrides the suite's `test.skipped_p2p`.
    """
    spec = task.check
    assert isinstance(spec, PatchTestsSpec)
    rule = skip_rule or settings.skipped_p2p
    details: dict[str, Any] = {"skip_rule": rule}
    infrastructure = Infrastructure.for_suite(settings.infrastructure)
    graded_patch, aside = set_aside(patch, infrastructure)
    if aside:
        write_log(log_dir, "set_aside.txt", "\n".join(aside) + "\n")
    # The agent's code runs in this container too: the script first strips the git history
    # after the base commit, so the real fix cannot be found there.
    prepared = prepare_check(runtime, task, spec, graded_patch, log_dir)
    if not is_empty_patch(graded_patch) and prepared.applied is None:
        notes = [f"set aside as test infrastructure: {', '.join(aside)}"] if aside else []
        detail = "; ".join([f"git apply, git apply --reject and patch all failed; {prepared.cause}", *notes])
        return CheckResult(Outcome.PATCH_APPLY_FAILED, detail=detail, details=details, set_aside=aside)
    run = run_check_tests(runtime, task, spec, settings, prepared.test_files, test_timeout, log_dir, rule)
    details["test_seconds"] = round(run.seconds, 3)  # the tests' own time: the rest of the item is overhead
    details["results_from"] = run.source
    # What an offline re-grade needs beyond the record (python -m pytest_ohbench regrade).
    if settings.report_file and run.source != "swebench":
        details["report_log"] = Path(settings.report_file).name
    if settings.infrastructure:
        details["infrastructure"] = list(settings.infrastructure)
    if task.repo:
        details["repo"] = task.repo
    if run.timed_out:
        detail = f"the tests ran past {test_timeout:g}s"
        return CheckResult(Outcome.TEST_TIMEOUT, detail=detail, details=details, set_aside=aside)
    if run.oom_killed:
        # Judged like a timeout: the code under test exhausted the limit every item gets.
        detail = (
            f"{OOM_KILLED}: the test run was killed for using more memory than the container has "
            "(suite.yaml container.memory)"
        )
        return CheckResult(Outcome.UNRESOLVED, detail=detail, reason=OOM_KILLED, details=details, set_aside=aside)
    return judged(run, spec.fail_to_pass, spec.pass_to_pass, rule, details, aside, infrastructure)


def judged(run: TestRun, fail_to_pass: list[str], pass_to_pass: list[str], rule: str, details: dict[str, Any],
           aside: list[str], infrastructure: Infrastructure) -> CheckResult:
    """The check's result for a test run that ended by itself: the judge's verdict."""
    notes = [f"set aside as test infrastructure: {', '.join(aside)}"] if aside else []
    verdict = judge(run, fail_to_pass, pass_to_pass, rule, infrastructure=infrastructure, repo=details.get("repo", ""))
    outcome = Outcome.RESOLVED if verdict.resolved else Outcome.UNRESOLVED
    return CheckResult(outcome, run.statuses, verdict.grade, "; ".join([*verdict.notes, *notes]), verdict.reason,
                       details=details, set_aside=aside)


def regrade(record: TaskRecord, log_dir: Path, skip_rule: str | None = None) -> CheckResult | None:
    """The check's result again from the item's saved logs, with no container: the same
    reading of the runner's report (read_results) and the same judge as the live check.

    `skip_rule` overrides the one the record was graded with. None when the record holds no
    judged test run (an empty patch, a patch that did not apply, a timeout, an OOM kill, an
    error). OSError / ValueError when its logs are missing or cut.
    """
    source = record.check.get("results_from")
    if source is None or record.outcome not in (Outcome.RESOLVED, Outcome.UNRESOLVED) or record.reason.startswith(OOM_KILLED):
        return None
    rule = skip_rule or record.check.get("skip_rule") or DEFAULT_SKIP_RULE
    # The expected tests are the record's two halves (their order within each half is kept).
    fail_to_pass = [*record.fail_to_pass["success"], *record.fail_to_pass["failure"]]
    pass_to_pass = [*record.pass_to_pass["success"], *record.pass_to_pass["failure"]]
    run = saved_run(log_dir, source)
    if source == "swebench":  # the official per-repository parser needs the row: its statuses as recorded
        official_results(run, dict(record.tests), rule)
    else:
        read_results(run, [*fail_to_pass, *pass_to_pass], saved_report(log_dir, run, record.check.get("report_log", "")))
    details = {**record.check, "skip_rule": rule}
    infrastructure = Infrastructure.for_suite(record.check.get("infrastructure", []))
    return judged(run, fail_to_pass, pass_to_pass, rule, details, list(record.set_aside), infrastructure)


class PatchTestsChecker:
    """SWE-style tasks: the agent's patch against the instance's tests, in a fresh container."""

    prestart: ClassVar[bool] = True  # judges in a fresh container: it may be started while the agent runs

    @staticmethod
    def prepare_ahead(runtime: Runtime, task: Task) -> None:
        """See prepare_ahead(): called on a fresh check container before it is handed out."""
        prepare_ahead(runtime, task)

    @staticmethod
    def regrade(record: TaskRecord, log_dir: Path, skip_rule: str | None = None) -> CheckResult | None:
        """See regrade(): the verdict again from the saved logs."""
        return regrade(record, log_dir, skip_rule)

    def check(self, context: CheckContext) -> CheckResult:
        if is_empty_patch(context.patch):
            return CheckResult(Outcome.EMPTY_PATCH, detail="the agent produced no changes")
        with context.fresh_runtime() as runtime:
            return check_patch(
                runtime,
                context.task,
                context.patch,
                context.suite.test,
                context.test_timeout,
                context.log_dir,
                skip_rule=context.skip_rule,
            )
