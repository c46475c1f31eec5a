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
import os
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import docker
import docker.errors
from filelock import FileLock

from pytest_ohbench.checks import perf_criteria
from pytest_ohbench.checks.base import CheckContext, CheckResult
from pytest_ohbench.checks.logparsers import get_parser
from pytest_ohbench.checks.patch import apply_agent_patch, is_empty_patch, patch_files
from pytest_ohbench.checks.perf_measure import Measurement, TimedRunner, measure
from pytest_ohbench.errors import HarnessError, last_line
from pytest_ohbench.machine import machine_facts
from pytest_ohbench.outcomes import Outcome
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.docker import DockerRuntime, docker_client
from pytest_ohbench.runtime.images import LOCK_DIR
from pytest_ohbench.tasks.perf import EfficiencyTest, PerfSpec, is_test_path

if TYPE_CHECKING:
    from pytest_ohbench.llm import LLMConfig
    from pytest_ohbench.report.record import TaskRecord
    from pytest_ohbench.suite import SuiteConfig

SUPPORT_DIR = "/ohbench/perf"
PATCH_DIR = "/ohbench/patches"
PASSING = frozenset({"PASSED", "XFAIL", "XPASS", "SKIPPED"})
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
    test_command: str = "python3 -m pytest -rA -p no:cacheprovider {test_files}"
    test_parser: str = "pytest"


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


def set_aside_test_changes(runtime: Runtime, base_commit: str, protected: list[str]) -> list[str]:
    """Put back to base every test file, test configuration or `protected` file the agent
    changed (deleting those base lacks); the paths, sorted."""
    listed = runtime.execute(f"git add -A && git diff --cached --name-only --no-renames {shlex.quote(base_commit)}", timeout=120)
    if listed.exit_code != 0:
        raise HarnessError(Outcome.INFRA_ERROR, f"cannot list the agent's changes: {last_line(listed.output)}")
    changed = [line.strip() for line in listed.output.splitlines() if line.strip()]
    aside = sorted(f for f in changed if is_test_path(f) or f in protected)
    if aside:
        quoted = " ".join(shlex.quote(f) for f in aside)
        base = shlex.quote(base_commit)
        restore = runtime.execute(
            f"for f in {quoted}; do if git cat-file -e {base}:\"$f\" 2>/dev/null; "
            f'then git checkout -q {base} -- "$f"; else git rm -q -f --cached -- "$f" >/dev/null; rm -f -- "$f"; fi; done',
            timeout=120,
        )
        if restore.exit_code != 0:
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot restore the test files: {last_line(restore.output)}")
    return aside


def run_correctness(
    runtime: Runtime, spec: PerfSpec, settings: PerfCheckSettings, instance_id: str, timeout: float, log_path: Path
) -> tuple[dict[str, str], bool, str]:
    """(statuses, timed_out, command) of the correctness tests in one state."""
    try:
        parser = get_parser(settings.test_parser)
        command = settings.test_command.format(
            test_files=" ".join(shlex.quote(t) for t in spec.correctness_tests), instance_id=instance_id
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"suite.yaml test settings for a perf task: {exc}") from None
    result = runtime.execute(command, timeout=timeout)
    log_path.write_text(f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{result.output}", encoding="utf-8")
    if result.timed_out:
        return {}, True, command
    return parser(result.output), False, command


def choose_cpuset(setting: str, engine_cpus: int, engine_allows: bool, worker: str | None = None) -> str | None:
    """The CPUs the three state containers share: `auto` picks one CPU per xdist worker,
    from the last one down (gw0 -> the last CPU); "" or "none" pins nothing."""
    if not engine_allows or setting.strip().lower() in ("", "none", "off"):
        return None
    if setting.strip().lower() != "auto":
        return setting.strip()
    if engine_cpus < 1:
        return None
    index = int(worker[2:]) if worker and worker.startswith("gw") and worker[2:].isdigit() else 0
    return str(engine_cpus - 1 - index % engine_cpus)


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
    protected = sorted({f for t in spec.efficiency_tests for f in t.files()} | set(patch_files(spec.test_patch)))
    with contextlib.ExitStack() as stack:
        human = stack.enter_context(start("human"))
        _run_commands(human, spec.setup_commands, "human", location, test_timeout, log_dir)
        applied, output = _apply(human, spec.patch, "human", log_dir, "human_apply.log")
        if not applied:
            raise HarnessError(Outcome.INFRA_ERROR, f"{location}: the human patch does not apply at base_commit: {last_line(output)}")
        _apply_test_patch(human, spec, "human", location, log_dir)
        _run_commands(human, spec.install_commands, "human", location, test_timeout, log_dir)

        base = stack.enter_context(start("base"))
        _run_commands(base, spec.setup_commands, "base", location, test_timeout, log_dir)
        _apply_test_patch(base, spec, "base", location, log_dir)
        _run_commands(base, spec.install_commands, "base", location, test_timeout, log_dir)
        runners = {name: TimedRunner(rt, SUPPORT_DIR, settings.python) for name, rt in (("base", base), ("human", human))}
        for runner in runners.values():
            runner.prepare(spec.efficiency_tests)
        for test in spec.efficiency_tests:
            exists = runners["base"].exists_command(test)
            if exists and base.execute(exists, timeout=test_timeout).exit_code != 0:
                raise HarnessError(
                    Outcome.INFRA_ERROR,
                    f"{location}: efficiency test {test.name} does not exist at base_commit"
                    + (" with the test_patch" if spec.test_patch.strip() else ""),
                )

        agent = stack.enter_context(start("agent"))
        _run_commands(agent, spec.setup_commands, "agent", location, test_timeout, log_dir)
        if apply_agent_patch(agent, job.agent_patch, log_dir)[0] is None:  # (command, cause): None when none applied
            return PerfCheckResult(
                Outcome.PATCH_APPLY_FAILED, "git apply, git apply --reject and patch all failed", details=details
            )
        details["set_aside"] = set_aside_test_changes(agent, job.base_commit, protected)
        _apply_test_patch(agent, spec, "agent", location, log_dir)
        _run_commands(agent, spec.install_commands, "agent", location, test_timeout, log_dir)

        statuses, timed_out, command = run_correctness(
            agent, spec, settings, job.instance_id, test_timeout, log_dir / "test_output.txt"
        )
        if timed_out:
            return PerfCheckResult(Outcome.TEST_TIMEOUT, f"the correctness tests ran past {test_timeout:g}s", details=details)
        failing = sorted(t for t, s in statuses.items() if s not in PASSING)
        excused: list[str] = []
        if failing:  # a test the human's version fails too is not the agent's doing
            human_statuses, _, _ = run_correctness(
                human, spec, settings, job.instance_id, test_timeout, log_dir / "human_test_output.txt"
            )
            excused = [t for t in failing if human_statuses.get(t) not in PASSING]
            failing = [t for t in failing if t not in excused]
        correct = bool(statuses) and not failing
        details["correctness"] = {
            "command": command, "tests": len(statuses), "failing": failing, "excused": excused,
        }
        if not correct:
            why = f"{len(failing)} correctness test(s) fail: {', '.join(failing[:5])}" if failing else (
                "no correctness test results could be parsed")
            details.update(reason=perf_criteria.TESTS_FAILED, resolved=False, verdict=why)
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

    One measurement at a time on this machine (a file lock across xdist workers and runs):
    two timed workloads side by side would mostly measure each other.
    """
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    waited = time.monotonic()
    with FileLock(str(LOCK_DIR / "perf-measure.lock")):
        waited = time.monotonic() - waited
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
    )
    failure = measurement.failure
    if failure is not None:
        details["failure"] = failure
        if failure["state"] != "agent":
            raise HarnessError(
                Outcome.INFRA_ERROR,
                f"{location}: efficiency test {failure['test']} fails in the {failure['state']} state "
                f"(exit {failure['exit_code']}): {last_line(failure['output'])}",
            )
        if failure["timed_out"]:
            return PerfCheckResult(Outcome.TEST_TIMEOUT, f"efficiency test {failure['test']} timed out", statuses, details)
        why = f"efficiency test {failure['test']} fails with the agent's change: {last_line(failure['output'])}"
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


def docker_starter(
    client: "docker.DockerClient",
    image: str,
    *,
    run_id: str,
    instance_id: str,
    workdir: str,
    memory: str,
    cpuset: str | None,
) -> StartState:
    """A StartState over Docker: a fresh container of `image` per state, removed on exit.

    Pinned to `cpuset` (then without a CPU quota: one pinned CPU is the limit), else one CPU
    of quota, as any task container.
    """

    @contextlib.contextmanager
    def start(state: str) -> Iterator[Runtime]:
        try:
            runtime = DockerRuntime.start(
                client, image, run_id=run_id, instance_id=f"{instance_id}-{state}", workdir=workdir,
                cpus=0.0 if cpuset else 1.0, memory=memory, network="none", cpuset_cpus=cpuset,
            )
        except (docker.errors.DockerException, ValueError) as exc:
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot start the {state} container from {image}: {exc}") from None
        try:
            yield runtime
        finally:
            runtime.remove()

    return start


def engine_pinning(client: "docker.DockerClient", setting: str) -> dict[str, Any]:
    """What pinning the engine allows and which CPUs this process's checks use."""
    info = client.info()
    allows = bool(info.get("CPUSet", False))
    cpus = int(info.get("NCPU", 0) or 0)
    cpuset = choose_cpuset(setting, cpus, allows, worker_name())
    return {"engine_cpus": cpus, "engine_allows_cpuset": allows, "cpuset": cpuset, "pinned": cpuset is not None}


def worker_name() -> str | None:
    """The xdist worker this process is (gw0, gw1, ...), or None in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def settings_for(suite: "SuiteConfig") -> PerfCheckSettings:
    """The check's settings: the suite's `perf:` section (with the command-line overrides
    already applied to it) and its test command."""
    perf = suite.perf
    return PerfCheckSettings(
        criterion=perf.criterion, target=perf.target, repeats=perf.repeats, warmups=perf.warmups,
        extra_repeats=perf.extra_repeats, max_repeats=perf.max_repeats,
        alpha=perf.alpha, estimator=perf.estimator, clock=perf.clock, python=perf.python,
        test_command=suite.test.command, test_parser=suite.test.parser,
    )


class PerfChecker:
    """The checker of perf tasks (PerfSpec): correctness, then timings against base and human."""

    spec_type: ClassVar[type[PerfSpec]] = PerfSpec

    def check(self, context: CheckContext) -> CheckResult:
        task, spec = context.task, context.task.check
        assert isinstance(spec, PerfSpec)
        if is_empty_patch(context.patch):  # nothing to time: skip the three containers
            return CheckResult(Outcome.EMPTY_PATCH, detail="the agent produced no changes", details={"kind": "perf"})
        try:
            client = docker_client()
            try:
                pinning = engine_pinning(client, context.suite.perf.cpuset)
            finally:
                client.close()
        except docker.errors.DockerException as exc:
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot ask the Docker engine about its CPUs: {exc}") from None

        @contextlib.contextmanager
        def start(state: str) -> Iterator[Runtime]:
            with context.fresh_runtime(cpuset=pinning["cpuset"]) as runtime:
                yield runtime

        result = check_perf(PerfJob(
            location=task.location, instance_id=task.instance_id, base_commit=task.base_commit, spec=spec,
            agent_patch=context.patch, settings=settings_for(context.suite), start=start, log_dir=context.log_dir,
            test_timeout=context.test_timeout, pinning=pinning,
        ))
        return CheckResult(result.outcome, result.tests, detail=result.detail, details=result.details)

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
