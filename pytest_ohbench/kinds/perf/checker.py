"""The perf check: is the agent's change correct, and how fast is it next to base and the human's?

Three fresh containers of the task image, all at the base commit:

- `human`: the human's `patch` and the record's `test_patch` applied. If the patch does not
  apply, the record is broken: a harness error naming the dataset file and row;
- `base`: the `test_patch` applied; every efficiency test must exist there (same error);
- `agent`: the agent's patch applied, then whatever it changed in test files, test
  configuration or the efficiency tests' own files put back to base (listed in `set_aside`),
  then the `test_patch`.

The correctness tests run on the agent state first (the record's `correctness_tests`, or the
whole suite with the suite's test command); a test that fails there and also fails in the
human state is not held against the agent. Only a correct change is timed: warm-up rounds,
then `repeats` rounds, each running every efficiency test in base, agent and human in a
rotating order (see perf_measure), and `extra_repeats` more while the verdict is not settled
(perf_criteria.needs_more; up to `max_repeats`); one measurement at a time on the machine. The containers
share one pinned CPU (`cpuset`) when the engine allows, as on a small machine three states
cannot each have their own. Every raw timing is kept, and the criterion (perf_criteria)
turns them into the verdict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.machine import LOCK_DIR, machine_facts
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import REPLAY_INVALID, safe_name
from pytest_ohbench.core.suite import TestSettings
from pytest_ohbench.kinds.base import CheckContext, CheckResult, write_log
from pytest_ohbench.kinds.judge.grading import DEFAULT_SKIP_RULE, F2P_PASSING
from pytest_ohbench.kinds.judge.integrity import Infrastructure, set_aside
from pytest_ohbench.kinds.judge.judge import (
    NO_RESULTS,
    ONLY_INFRASTRUCTURE,
    UNTRUSTED_REPORT,
    TestRun,
    excuse,
    judge_against_reference,
    run_tests,
)
from pytest_ohbench.kinds.perf import criteria as perf_criteria
from pytest_ohbench.kinds.perf.loader import EfficiencyTest, PerfSpec
from pytest_ohbench.kinds.perf.measure import Measurement, TimedRunner, measure
from pytest_ohbench.kinds.perf.settings import perf_settings
from pytest_ohbench.kinds.swe.checker import OOM_KILLED, apply_agent_patch, is_empty_patch, patch_files
from pytest_ohbench.runtime.base import Runtime

if TYPE_CHECKING:
    from pytest_ohbench.core.llm import LLMConfig
    from pytest_ohbench.core.record import TaskRecord
    from pytest_ohbench.core.suite import SuiteConfig

SUPPORT_DIR = "/ohbench/perf"
REPLAY_DIR = "perf_replay"  # in the run folder: each task's replay of the human's commit
PATCH_DIR = "/ohbench/patches"
# Why a run that never reached the criterion ended unresolved.
EFFICIENCY_FAILED = "efficiency_failed"

StartState = Callable[[str], AbstractContextManager[Runtime]]


@dataclasses.dataclass
class PerfCheckSettings:
    """How one perf check measures and judges (suite.yaml `perf:` plus the options)."""

    criterion: str = perf_criteria.DEFAULT_CRITERION
    target: float | None = None
    repeats: int = 7
    warmups: int = 1
    extra_repeats: int = 5
    max_repeats: int = 20
    alpha: float = perf_criteria.DEFAULT_ALPHA
    estimator: str = perf_criteria.DEFAULT_ESTIMATOR
    clock: str = "cpu"
    python: str = "python3"
    # How the correctness tests run and are read (suite.yaml `test:`), and the skip rule.
    tests: TestSettings = dataclasses.field(default_factory=TestSettings)
    skip_rule: str = DEFAULT_SKIP_RULE


@dataclasses.dataclass
class PerfCheckResult:
    """The outcome, a one-line detail, the per-test statuses and plain-JSON details."""

    outcome: Outcome
    detail: str
    tests: dict[str, str] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


def plain(value: Any) -> Any:
    """`value` as strict JSON: numpy scalars to Python, inf and nan to None, floats rounded."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 9) if math.isfinite(value) else None
    return value


def _apply(runtime: Runtime, patch: str, name: str, log_dir: Path, log_name: str) -> tuple[bool, str]:
    """`git apply` one patch in the workspace; (applied, output). Empty patches apply."""
    if is_empty_patch(patch):
        return True, ""
    path = f"{PATCH_DIR}/{name}.patch"
    runtime.execute(f"mkdir -p {PATCH_DIR}", timeout=60)
    runtime.write_file(path, patch if patch.endswith("\n") else patch + "\n")
    result = runtime.execute(f"git apply --verbose {path}", timeout=120)
    with (log_dir / log_name).open("a", encoding="utf-8") as log:
        log.write(f"$ git apply --verbose {name}.patch\n(exit {result.exit_code})\n{result.output}\n")
    return result.exit_code == 0, result.output


def _run_commands(runtime: Runtime, commands: list[str], state: str, location: str, timeout: float, log_dir: Path) -> None:
    for command in commands:
        result = runtime.execute(command, timeout=timeout)
        with (log_dir / f"{state}_setup.log").open("a", encoding="utf-8") as log:
            log.write(f"$ {command}\n(exit {result.exit_code})\n{result.output}\n")
        if result.exit_code != 0:
            raise HarnessError(
                Outcome.INFRA_ERROR, f"{location}: `{command}` fails in the {state} state: {last_line(result.output)}"
            )


def infrastructure_for(spec: PerfSpec, suite_patterns: list[str]) -> Infrastructure:
    """What of the agent's patch is set aside: the defaults (tests, conftest.py, ini files,
    sitecustomize.py, .pth, ...), the efficiency tests' own files, the test patch's files and
    suite.yaml's `test.infrastructure`: the same rules as every patch check."""
    own = sorted({f for t in spec.efficiency_tests for f in t.files()} | set(patch_files(spec.test_patch)))
    return Infrastructure.for_suite([*(f"/{path}" for path in own), *suite_patterns])


def correctness_command(settings: PerfCheckSettings, spec: PerfSpec, instance_id: str) -> str:
    """The suite's test command over the record's correctness tests (all of them when it names none)."""
    try:
        return settings.tests.command.format(
            test_files=" ".join(shlex.quote(t) for t in spec.correctness_tests), instance_id=instance_id
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"suite.yaml test settings for a perf task: {exc}") from None


def run_correctness(
    runtime: Runtime, spec: PerfSpec, settings: PerfCheckSettings, instance_id: str, timeout: float, log_dir: Path, state: str
) -> TestRun:
    """The correctness tests in one state, run and read by the judge (kinds/judge/judge.py)."""
    command = correctness_command(settings, spec, instance_id)
    log_name = "test_output.txt" if state == "agent" else f"{state}_test_output.txt"
    return run_tests(runtime, command, settings.tests, [], timeout, log_dir, log_name)


@dataclasses.dataclass
class PerfJob:
    """One perf check to run: the task, the agent's patch, and how and where to judge it."""

    location: str  # the dataset file and row, for harness errors
    instance_id: str
    base_commit: str
    spec: PerfSpec
    agent_patch: str
    settings: PerfCheckSettings
    start: StartState
    log_dir: Path
    test_timeout: float
    pinning: dict[str, Any] | None = None


def _human_state(stack: contextlib.ExitStack, job: PerfJob) -> Runtime:
    """The `human` container: the human's patch and the test patch applied, installed."""
    spec, location, log_dir, timeout = job.spec, job.location, job.log_dir, job.test_timeout
    human = stack.enter_context(job.start("human"))
    _run_commands(human, spec.setup_commands, "human", location, timeout, log_dir)
    applied, output = _apply(human, spec.patch, "human", log_dir, "human_apply.log")
    if not applied:
        raise HarnessError(Outcome.INFRA_ERROR, f"{location}: the human patch does not apply at base_commit: {last_line(output)}")
    _apply_test_patch(human, spec, "human", location, log_dir)
    _run_commands(human, spec.install_commands, "human", location, timeout, log_dir)
    return human


def _reference_states(stack: contextlib.ExitStack, job: PerfJob) -> tuple[Runtime, Runtime, dict[str, TimedRunner]]:
    """The `human` and `base` containers, ready to time (a broken record raises HarnessError)."""
    spec, location, log_dir, timeout = job.spec, job.location, job.log_dir, job.test_timeout
    human = _human_state(stack, job)
    base = stack.enter_context(job.start("base"))
    _run_commands(base, spec.setup_commands, "base", location, timeout, log_dir)
    _apply_test_patch(base, spec, "base", location, log_dir)
    _run_commands(base, spec.install_commands, "base", location, timeout, log_dir)
    runners = {name: TimedRunner(rt, SUPPORT_DIR, job.settings.python) for name, rt in (("base", base), ("human", human))}
    for runner in runners.values():
        runner.prepare(spec.efficiency_tests)
    for test in spec.efficiency_tests:
        exists = runners["base"].exists_command(test)
        if exists and base.execute(exists, timeout=timeout).exit_code != 0:
            raise HarnessError(
                Outcome.INFRA_ERROR,
                f"{location}: efficiency test {test.name} does not exist at base_commit"
                + (" with the test_patch" if spec.test_patch.strip() else ""),
            )
    return human, base, runners


def human_replay(job: PerfJob, cache: Path | None) -> dict[str, Any]:
    """Does the human's commit replay on this machine (perf_criteria.replay)? Measured once per
    run and task before any agent is judged on it: the first item measures base against the
    human (under a lock across xdist workers) and keeps the result in `cache`, the others read it."""
    if cache is None:
        return _measure_replay(job)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache) + ".lock"):
        if cache.is_file():
            return dict(json.loads(cache.read_text(encoding="utf-8")))
        result = plain(_measure_replay(job))
        cache.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return result


def _measure_replay(job: PerfJob) -> dict[str, Any]:
    """Time base and human alone, interleaved, until the replay verdict is settled or the cap."""
    settings, tests = job.settings, job.spec.efficiency_tests
    log_path = job.log_dir / "replay_timings.log"
    with contextlib.ExitStack() as stack:
        _, _, runners = _reference_states(stack, job)
        with _measuring():
            measurement = measure(runners, tests, repeats=settings.repeats, warmups=settings.warmups,
                                  timeout=job.test_timeout, clock=settings.clock, log_path=log_path)
            verdict = _replay_verdict(measurement, settings)
            while verdict is not None and not verdict["valid"] and (more := rounds_to_add(
                    measurement.repeats, settings.extra_repeats, settings.max_repeats)):
                measurement = measure(runners, tests, repeats=more, warmups=0, timeout=job.test_timeout,
                                      clock=settings.clock, log_path=log_path, more_of=measurement)
                verdict = _replay_verdict(measurement, settings)
    failure = measurement.failure
    if failure is not None or verdict is None:
        assert failure is not None
        raise HarnessError(
            Outcome.INFRA_ERROR,
            f"{job.location}: efficiency test {failure['test']} fails in the {failure['state']} state "
            f"(exit {failure['exit_code']}): {failure.get('problem') or last_line(failure['output'])}",
        )
    verdict.update(timing_source=measurement.timing_source, timings=measurement.timings, machine=machine_facts())
    return verdict


def _replay_verdict(measurement: Measurement, settings: PerfCheckSettings) -> dict[str, Any] | None:
    if measurement.failure:
        return None
    return perf_criteria.replay(measurement.timings, settings.criterion, settings.alpha, settings.estimator)


@contextlib.contextmanager
def _measuring() -> Iterator[float]:
    """One measurement at a time on this machine (a file lock across xdist workers and runs):
    two timed workloads side by side would mostly measure each other. Yields the seconds waited."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    waited = time.monotonic()
    with FileLock(str(LOCK_DIR / "perf-measure.lock")):
        yield time.monotonic() - waited


def check_perf(job: PerfJob) -> PerfCheckResult:
    """Judge the agent's patch for a perf task; harness errors (a broken record) raise HarnessError.

    The details (plain JSON) also go to `perf.json` in the job's `log_dir`.
    """
    if is_empty_patch(job.agent_patch):
        return PerfCheckResult(Outcome.EMPTY_PATCH, "the agent produced no changes", details={"kind": "perf"})
    return _done(_check(job), job.log_dir)


def _check(job: PerfJob) -> PerfCheckResult:
    """Three containers, correctness on the agent state, then the timings and the verdict."""
    location, spec, settings, start = job.location, job.spec, job.settings, job.start
    log_dir, test_timeout = job.log_dir, job.test_timeout
    details: dict[str, Any] = {
        "kind": "perf",
        "criterion": settings.criterion,
        "human_reference_commit": spec.head_commit,
        "human_performance_recorded": spec.human_performance,
        "efficiency_tests": [t.name for t in spec.efficiency_tests],
        "machine": {**machine_facts(), **(job.pinning or {})},
    }
    infrastructure = infrastructure_for(spec, settings.tests.infrastructure)
    graded_patch, aside = set_aside(job.agent_patch, infrastructure)
    details["set_aside"] = aside
    if aside:
        write_log(log_dir, "set_aside.txt", "\n".join(aside) + "\n")
    if is_empty_patch(graded_patch):
        why = f"the patch changes only test infrastructure, set aside: {', '.join(aside)}"
        details.update(reason=ONLY_INFRASTRUCTURE, resolved=False, verdict=why)
        return PerfCheckResult(Outcome.UNRESOLVED, why, details=details)
    with contextlib.ExitStack() as stack:
        human, base, runners = _reference_states(stack, job)
        # The reference: which correctness tests run at the base, and how they end there.
        reference = run_correctness(base, spec, settings, job.instance_id, test_timeout, log_dir, "base")
        if not reference.usable or reference.problem or not reference.statuses:
            why = reference.problem or ("timed out" if reference.timed_out else "no test results")
            raise HarnessError(Outcome.INFRA_ERROR, f"{location}: the correctness tests cannot be read at the base: {why}")

        agent = stack.enter_context(start("agent"))
        _run_commands(agent, spec.setup_commands, "agent", location, test_timeout, log_dir)
        if apply_agent_patch(agent, graded_patch, log_dir)[0] is None:  # (command, cause): None when none applied
            return PerfCheckResult(
                Outcome.PATCH_APPLY_FAILED, "git apply, git apply --reject and patch all failed", details=details
            )
        _apply_test_patch(agent, spec, "agent", location, log_dir)
        _run_commands(agent, spec.install_commands, "agent", location, test_timeout, log_dir)

        run = run_correctness(agent, spec, settings, job.instance_id, test_timeout, log_dir, "agent")
        statuses = run.statuses
        if run.timed_out:
            return PerfCheckResult(Outcome.TEST_TIMEOUT, f"the correctness tests ran past {test_timeout:g}s", details=details)
        if run.oom_killed:
            why = "the correctness tests were killed for using more memory than the container has (suite.yaml container.memory)"
            details.update(reason=OOM_KILLED, resolved=False, verdict=why)
            return PerfCheckResult(Outcome.UNRESOLVED, why, statuses, details)
        correctness = judge_against_reference(run, reference, settings.skip_rule, infrastructure=infrastructure)
        if not correctness.resolved and run.statuses:  # a test the human's version fails too is not the agent's doing
            human_run = run_correctness(human, spec, settings, job.instance_id, test_timeout, log_dir, "human")
            if human_run.statuses:
                tests = set(reference.statuses) | set(run.statuses)
                excuse(correctness, {t for t in tests if human_run.statuses.get(t) not in F2P_PASSING})
        failing = sorted({*correctness.grade.fail_to_pass["failure"], *correctness.grade.pass_to_pass["failure"]})
        details["correctness"] = {
            "command": correctness_command(settings, spec, job.instance_id), "tests": len(statuses),
            "tests_at_base": len(reference.statuses), "results_from": run.source, "failing": failing,
            "excused": sorted(correctness.excused),
        }
        if not correctness.resolved:
            count = f"{len(failing)} correctness test(s) fail: {', '.join(failing[:5])}"
            # An untrusted run fails every test: what made it untrusted comes first.
            untrusted = correctness.reason in (UNTRUSTED_REPORT, NO_RESULTS)
            why = "; ".join([*correctness.notes, count] if untrusted else [count, *correctness.notes])
            details.update(reason=perf_criteria.TESTS_FAILED, correctness_reason=correctness.reason, resolved=False, verdict=why)
            return PerfCheckResult(Outcome.UNRESOLVED, why, statuses, details)

        runners["agent"] = TimedRunner(agent, SUPPORT_DIR, settings.python)
        runners["agent"].prepare(spec.efficiency_tests)
        ordered = {name: runners[name] for name in perf_criteria.STATES}
        measurement, verdict = measure_and_judge(
            ordered, spec.efficiency_tests, settings, test_timeout, log_dir / "perf_timings.log"
        )
    details["machine"]["load_avg_after"] = machine_facts()["load_avg"]
    return _judge(measurement, verdict, location, statuses, details)


def judge_measurement(measurement: Measurement, settings: PerfCheckSettings, agent: str = "agent") -> perf_criteria.Verdict:
    """The criterion's verdict on a measurement whose states include base, human and `agent`."""
    def states(timings: dict[str, dict[str, list[float]]]) -> perf_criteria.Samples:
        return {
            test: {"base": by_state["base"], "agent": by_state[agent], "human": by_state["human"]}
            for test, by_state in timings.items()
        }

    return perf_criteria.judge(
        states(measurement.timings), correct=True, criterion=settings.criterion, target=settings.target,
        alpha=settings.alpha, estimator=settings.estimator,
        # CPU-time verdicts must not hide a change that waits instead of working.
        wall=states(measurement.clock_timings("wall")) if measurement.clock == "cpu" else None,
    )


def rounds_to_add(rounds: int, extra_repeats: int, max_repeats: int) -> int:
    """The size of the next addition after `rounds`: `extra_repeats`, the last one cut to
    reach `max_repeats` exactly (0 at the cap, or when nothing is ever added)."""
    return max(0, min(extra_repeats, max_repeats - rounds))


def more_rounds(settings: PerfCheckSettings, rounds: int, verdict: perf_criteria.Verdict) -> int:
    """How many rounds to add after a look at `rounds`: while the verdict could still change."""
    return rounds_to_add(rounds, settings.extra_repeats, settings.max_repeats) if perf_criteria.needs_more(verdict) else 0


def measure_and_judge(
    runners: dict[str, TimedRunner],
    tests: list[EfficiencyTest],
    settings: PerfCheckSettings,
    timeout: float,
    log_path: Path | None = None,
) -> tuple[Measurement, perf_criteria.Verdict | None]:
    """Measure, judge, and while the verdict is not settled (perf_criteria.needs_more),
    measure `extra_repeats` more rounds and judge again on all of them, up to `max_repeats`
    rounds (None: a run failed). The earlier looks are kept in the verdict's numbers.

    One measurement at a time on this machine (`_measuring`).
    """
    with _measuring() as waited:
        measurement = measure(
            runners, tests, repeats=settings.repeats, warmups=settings.warmups, timeout=timeout,
            clock=settings.clock, log_path=log_path,
        )
        if measurement.failure:
            return measurement, None
        verdict = judge_measurement(measurement, settings)
        looks = []
        while more := more_rounds(settings, measurement.repeats, verdict):
            looks.append({"rounds": measurement.repeats, "reason": verdict.reason, "detail": verdict.detail})
            measurement = measure(
                runners, tests, repeats=more, warmups=0, timeout=timeout, clock=settings.clock,
                log_path=log_path, more_of=measurement,
            )
            if measurement.failure:
                return measurement, None
            verdict = judge_measurement(measurement, settings)
    verdict = perf_criteria.settle(verdict)  # the last look
    verdict.numbers["earlier_looks"] = looks
    verdict.numbers["waited_for_other_measurements"] = round(waited, 3)
    return measurement, verdict


def _apply_test_patch(runtime: Runtime, spec: PerfSpec, state: str, location: str, log_dir: Path) -> None:
    applied, output = _apply(runtime, spec.test_patch, f"{state}_test", log_dir, "test_patch.log")
    if not applied:
        raise HarnessError(Outcome.INFRA_ERROR, f"{location}: test_patch does not apply in the {state} state: {last_line(output)}")


def _judge(
    measurement: Measurement,
    verdict: perf_criteria.Verdict | None,
    location: str,
    statuses: dict[str, str],
    details: dict[str, Any],
) -> PerfCheckResult:
    details.update(
        repeats=measurement.repeats,
        warmups=measurement.warmups,
        order=measurement.order,
        timings=measurement.timings,
        warmup_timings=measurement.warmup_timings,
        clock=measurement.clock,
        raw=measurement.raw,
        measure_seconds=measurement.seconds,
        timing_source=measurement.timing_source,
    )
    failure = measurement.failure
    if failure is not None:
        details["failure"] = failure
        if failure["state"] != "agent":
            raise HarnessError(
                Outcome.INFRA_ERROR,
                f"{location}: efficiency test {failure['test']} fails in the {failure['state']} state "
                f"(exit {failure['exit_code']}): {failure.get('problem') or last_line(failure['output'])}",
            )
        if failure["timed_out"]:
            return PerfCheckResult(Outcome.TEST_TIMEOUT, f"efficiency test {failure['test']} timed out", statuses, details)
        why = f"efficiency test {failure['test']} fails with the agent's change: {failure.get('problem') or last_line(failure['output'])}"
        details.update(reason=EFFICIENCY_FAILED, resolved=False, verdict=why)
        return PerfCheckResult(Outcome.UNRESOLVED, why, statuses, details)
    assert verdict is not None
    details.update(
        criterion=verdict.criterion, reason=verdict.reason, resolved=verdict.resolved, verdict=verdict.detail,
        numbers=verdict.numbers,
        speedups={
            "agent": verdict.numbers["agent_speedup"],
            "human": verdict.numbers["human_speedup"],
            "agent_vs_human": verdict.numbers["agent_vs_human"],
        },
    )
    outcome = Outcome.RESOLVED if verdict.resolved else Outcome.UNRESOLVED
    return PerfCheckResult(outcome, f"{verdict.reason}: {verdict.detail}", statuses, details)


def _done(result: PerfCheckResult, log_dir: Path) -> PerfCheckResult:
    """Make the details strict JSON and keep a copy in the item's logs (perf.json)."""
    result.details = plain(result.details)
    (log_dir / "perf.json").write_text(json.dumps(result.details, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return result


def settings_for(suite: "SuiteConfig", skip_rule: str | None = None) -> PerfCheckSettings:
    """The check's settings: the suite's `perf:` section (with the command-line overrides
    already applied to it), its test settings and the run's skip rule (else the suite's)."""
    perf = perf_settings(suite)
    return PerfCheckSettings(
        criterion=perf.criterion, target=perf.target, repeats=perf.repeats, warmups=perf.warmups,
        extra_repeats=perf.extra_repeats, max_repeats=perf.max_repeats,
        alpha=perf.alpha, estimator=perf.estimator, clock=perf.clock, python=perf.python,
        tests=suite.test, skip_rule=skip_rule or suite.test.skipped_p2p,
    )


class PerfChecker:
    """The checker of perf tasks (PerfSpec): correctness, then timings against base and human."""


    def check(self, context: CheckContext) -> CheckResult:
        task, spec = context.task, context.task.check
        assert isinstance(spec, PerfSpec)
        pinning = context.pinning(perf_settings(context.suite).cpuset)

        @contextlib.contextmanager
        def start(state: str) -> Iterator[Runtime]:
            with context.fresh_runtime(cpuset=pinning["cpuset"]) as runtime:
                yield runtime

        job = PerfJob(
            location=task.location, instance_id=task.instance_id, base_commit=task.base_commit, spec=spec,
            agent_patch=context.patch, settings=settings_for(context.suite, context.skip_rule), start=start, log_dir=context.log_dir,
            test_timeout=context.test_timeout, pinning=pinning,
        )
        # Before the agent is judged (whatever its patch): does the human's commit replay here?
        cache = context.run_dir / REPLAY_DIR / f"{safe_name(task.instance_id)}.json" if context.run_dir else None
        replay = human_replay(job, cache)
        result = check_perf(job)
        result.details["replay"] = {k: v for k, v in replay.items() if k not in ("timings", "machine")}
        code = "" if result.outcome is Outcome.RESOLVED else str(result.details.get("reason") or "")
        flags = [] if replay["valid"] else [REPLAY_INVALID]
        return CheckResult(result.outcome, result.tests, detail=result.detail, reason=code, details=result.details, flags=flags)

    def annotate_record(self, record: "TaskRecord", llm: "LLMConfig | None") -> None:
        """Add ISO-Bench's LLM-record fields to the record's check details, once it is final."""
        record.check.update(iso_bench_fields(record, llm))


def iso_bench_fields(record: "TaskRecord", llm: "LLMConfig | None") -> dict[str, Any]:
    """ISO-Bench's per-run fields: who made the change, at what cost, and did it succeed."""
    model = llm.model if llm is not None else None
    provider = model.split("/", 1)[0] if model and "/" in model else (model or record.agent)
    item = record.nodeid.rsplit("::", 1)[-1]
    return {
        "record_type": "human" if record.agent == "oracle" else "llm",
        "provider": provider,
        "model": model,
        "iterations": record.agent_steps or record.llm_calls,
        "cost_usd": record.cost_usd,
        "time_seconds": record.durations.get("agent", 0.0),
        "success": record.resolved,
        "agent_branch": f"ohbench/{record.run_id}/{item}",
    }
