"""Timing efficiency tests in several repository states, interleaved, with every raw timing kept.

Each state (base, agent, human, ...) lives in its own runtime (a container, or a folder on
the host). One *round* runs every efficiency test once in every state; the order of the
states rotates from round to round (base-agent-human, agent-human-base, ...), so slow drifts
of the machine fall on all states alike. Warm-up rounds come first and are kept apart. A run
is timed inside its runtime by `perf_timer.py`, so the cost of `docker exec` is not counted.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from pathlib import Path
from typing import Any

from pytest_ohbench.kinds.judge.judge import efficiency_problem
from pytest_ohbench.kinds.perf import timer as perf_timer
from pytest_ohbench.kinds.perf.loader import EfficiencyTest
from pytest_ohbench.runtime.base import Runtime

TIMER_SOURCE = Path(perf_timer.__file__).read_text(encoding="utf-8")
# Fixed hash seed: set and dict orders, and so the work done, are the same in every run.
RUN_ENV = {"PYTHONHASHSEED": "0"}


CLOCKS = ("cpu", "wall")
RAW_KEYS = ("wall", "cpu", "reported", "reported_cpu", "preempted")


@dataclasses.dataclass
class RunResult:
    """One timed run: what the timer saw, and whether it passed."""

    exit_code: int
    wall: float = 0.0
    cpu: float = 0.0
    reported: float | None = None  # the test's own `Execution time:` figure
    reported_cpu: float | None = None  # the test's own `CPU time:` figure
    preempted: int = 0  # involuntary context switches
    timed_out: bool = False
    output: str = ""
    reported_from: str | None = None  # where `reported` came from: Execution time, JSON best, JSON time
    statuses: dict[str, str] | None = None  # a pytest efficiency test's statuses by node id (None: a process)
    problem: str | None = None  # why the judge does not take this run as a timing (kinds/judge/judge.py)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.problem is None

    def seconds(self, clock: str) -> float:
        """The run's time on `clock`: the script's own figure for its workload when it printed
        one (on the CPU clock its `CPU time:`, else its wall figure), else the timer's."""
        return _prefer(self.reported_cpu, self.reported, self.cpu) if clock == "cpu" else _prefer(self.reported, self.wall)

    def source(self, clock: str) -> str:
        """Which figure `seconds(clock)` used, for the record."""
        if clock == "cpu" and self.reported_cpu is not None:
            return "script: CPU time"
        if self.reported is not None:
            return f"script: {self.reported_from or 'Execution time'}"
        return f"timer: {clock}" + (" (pytest call phases)" if self.statuses is not None else " (whole process)")


def _prefer(*figures: float | None) -> float:
    """The first figure that is there (the last one always is)."""
    return next(f for f in figures if f is not None)


@dataclasses.dataclass
class Measurement:
    """Every timing of one measurement, by test and state, in round order."""

    states: list[str]
    tests: list[str]
    repeats: int
    warmups: int
    clock: str = "cpu"
    order: list[list[str]] = dataclasses.field(default_factory=list)  # state order of each round, warm-ups first
    timings: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)  # on `clock`
    warmup_timings: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    # Every figure of every timed run: test -> state -> {wall, cpu, reported, reported_cpu, preempted: [...]}
    raw: dict[str, dict[str, dict[str, list[Any]]]] = dataclasses.field(default_factory=dict)
    failure: dict[str, Any] | None = None  # the first run that failed: state, test, round, exit code, output
    seconds: float = 0.0
    # Which figure each test's timings are, by state (a script's own, or the timer's), and
    # the node ids a pytest efficiency test ran at its first run (every run must run them).
    timing_source: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    tests_ran: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def clock_timings(self, clock: str) -> dict[str, dict[str, list[float]]]:
        """The timed rounds on `clock` (the figures the test reported first, as `RunResult.seconds`)."""
        def figures(values: dict[str, list[Any]]) -> list[float]:
            if clock == "cpu":
                return [_prefer(c, r, m) for c, r, m in zip(values["reported_cpu"], values["reported"], values["cpu"], strict=True)]
            return [_prefer(r, m) for r, m in zip(values["reported"], values["wall"], strict=True)]

        return {test: {state: figures(values) for state, values in states.items()} for test, states in self.raw.items()}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TimedRunner:
    """Runs efficiency tests in one state's runtime through perf_timer.py."""

    def __init__(self, runtime: Runtime, support_dir: str, python: str = "python3", cwd: str | None = None) -> None:
        self.runtime = runtime
        self.support_dir = support_dir.rstrip("/")
        self.python = python
        self.cwd = cwd

    @property
    def timer_path(self) -> str:
        return f"{self.support_dir}/perf_timer.py"

    def script_path(self, test: EfficiencyTest) -> str:
        return f"{self.support_dir}/efficiency_{test.index}.py"

    def prepare(self, tests: list[EfficiencyTest]) -> None:
        """Put the timer (and the tests that are script sources) into the runtime."""
        made = self.runtime.execute(f"mkdir -p {shlex.quote(self.support_dir)}", timeout=60)
        if made.exit_code != 0:
            raise RuntimeError(f"cannot create {self.support_dir}: {made.output.strip()[-200:]}")
        self.runtime.write_file(self.timer_path, TIMER_SOURCE)
        for test in tests:
            if test.kind == "script":
                self.runtime.write_file(self.script_path(test), test.spec)

    def command(self, test: EfficiencyTest) -> str:
        """The shell command that times one run of `test`.

        The repository root is put on PYTHONPATH: the timer and the benchmark scripts live
        outside it, yet import its code as `python -m pytest` from the root would.
        """
        timer = f'PYTHONPATH="$PWD${{PYTHONPATH:+:$PYTHONPATH}}" {shlex.quote(self.python)} {shlex.quote(self.timer_path)}'
        if test.kind == "pytest":
            return f"{timer} pytest {shlex.quote(test.spec)}"
        if test.kind == "script":
            argv = [self.python, self.script_path(test)]
        elif test.kind == "path":
            argv = [self.python, test.spec]
        else:
            argv = ["bash", "-c", test.spec]
        return f"{timer} process -- {shlex.join(argv)}"

    def exists_command(self, test: EfficiencyTest) -> str | None:
        """A command that fails when `test` is not in the repository (None: nothing to check)."""
        files = test.files()
        if not files:
            return None
        check = " && ".join(f"test -f {shlex.quote(f)}" for f in files)
        if test.kind == "pytest":
            # The node must collect: a renamed test function is as missing as a deleted file.
            check += f" && {shlex.quote(self.python)} -m pytest --collect-only -q -p no:cacheprovider {shlex.quote(test.spec)}"
        return check

    def run(self, test: EfficiencyTest, timeout: float) -> RunResult:
        result = self.runtime.execute(self.command(test), timeout=timeout, cwd=self.cwd, env=RUN_ENV)
        output = result.output[-2000:]
        if result.timed_out:
            return RunResult(result.exit_code, timed_out=True, output=output)
        for line in reversed(result.output.splitlines()):
            if line.startswith(perf_timer.MARKER):
                data = json.loads(line[len(perf_timer.MARKER):])
                statuses = data.get("statuses") if test.kind == "pytest" else None
                return RunResult(
                    int(data["exit_code"]), float(data["wall"]), float(data["cpu"]),
                    None if data["reported"] is None else float(data["reported"]),
                    None if data.get("reported_cpu") is None else float(data["reported_cpu"]),
                    int(data["preempted"]), output=output, reported_from=data.get("reported_from"),
                    statuses=dict(statuses) if isinstance(statuses, dict) else ({} if test.kind == "pytest" else None),
                )
        return RunResult(result.exit_code or 1, output=output)


def rotation(states: list[str], round_index: int) -> list[str]:
    """The states in the order of one round: shifted by one more place every round."""
    shift = round_index % len(states)
    return states[shift:] + states[:shift]


def measure(
    runners: dict[str, TimedRunner],
    tests: list[EfficiencyTest],
    *,
    repeats: int,
    warmups: int,
    timeout: float,
    clock: str = "cpu",
    log_path: Path | None = None,
    more_of: Measurement | None = None,
) -> Measurement:
    """Time every test in every state: `warmups` + `repeats` interleaved rounds, on `clock`.

    `more_of`: add `repeats` rounds to that measurement (no warm-ups; the rotation goes on
    where it stopped) and return it.

    Stops at the first failed run (recorded in `failure`): a state whose test fails cannot be
    compared, and the caller decides whose fault that is.
    """
    states = list(runners)
    names = [t.name for t in tests]
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r} (known: {', '.join(CLOCKS)})")
    if more_of is not None:
        result, first, warmups = more_of, len(more_of.order), 0
        result.repeats += repeats
    else:
        result, first = Measurement(states, names, repeats, warmups, clock), 0
        result.timings = {n: {s: [] for s in states} for n in names}
        result.warmup_timings = {n: {s: [] for s in states} for n in names}
        result.raw = {n: {s: {key: [] for key in RAW_KEYS} for s in states} for n in names}
    started = time.monotonic()
    log = log_path.open("a", encoding="utf-8") if log_path else None
    try:
        for round_index in range(first, first + warmups + repeats):
            order = rotation(states, round_index)
            result.order.append(order)
            warm = round_index < warmups  # only a new measurement has warm-ups (first == 0)
            for test in tests:
                for state in order:
                    run = runners[state].run(test, timeout)
                    if run.statuses is not None and run.exit_code == 0 and not run.timed_out:
                        ran = result.tests_ran.setdefault(test.name, sorted(run.statuses))
                        run.problem = efficiency_problem(run.statuses, ran)
                        if run.problem:
                            run.output = f"{run.problem}\n{run.output}"
                    label = f"warm-up {round_index + 1}" if warm else f"round {len(result.timings[test.name][state]) + 1}"
                    if log:
                        shown = (
                            f"cpu {run.cpu:.6f}s wall {run.wall:.6f}s"
                            + (f" reported {run.reported:.6f}s" if run.reported is not None else "")
                            + (f" reported cpu {run.reported_cpu:.6f}s" if run.reported_cpu is not None else "")
                            + f" preempted {run.preempted}"
                        ) if run.ok else ("TIMED OUT" if run.timed_out else run.problem or f"FAILED (exit {run.exit_code})")
                        log.write(f"{label} {state:<6} {test.name}: {shown}\n")
                    if not run.ok:
                        result.failure = {
                            "state": state,
                            "test": test.name,
                            "round": label,
                            "exit_code": run.exit_code,
                            "timed_out": run.timed_out,
                            "output": run.output,
                            "problem": run.problem,
                        }
                        if log:
                            log.write(run.output + "\n")
                        return result
                    if warm:
                        result.warmup_timings[test.name][state].append(run.seconds(clock))
                        continue
                    result.timings[test.name][state].append(run.seconds(clock))
                    result.timing_source.setdefault(test.name, {})[state] = run.source(clock)
                    raw = result.raw[test.name][state]
                    for key in RAW_KEYS:
                        raw[key].append(getattr(run, key))
        return result
    finally:
        result.seconds = round(result.seconds + time.monotonic() - started, 3)
        if log:
            log.close()
