"""Time one run of an efficiency test. Standard library only: it is copied into task containers.

    python3 perf_timer.py pytest NODE_ID [NODE_ID ...]
    python3 perf_timer.py process -- ARGV ...      (e.g. python3 bench.py, or bash -c "CMD")

The last line printed is `OHBENCH_PERF_RESULT {json}` with, for the timed part:

- `wall`: elapsed seconds;
- `cpu`: CPU seconds (user + system), which unlike wall time do not grow while other
  processes hold the CPU;
- `reported`: the sum of the `Execution time: <s>s` lines the test printed (the convention
  of GSO's performance scripts: the script timed its own workload), else of the `best` (or
  else `time`) numbers of the lines that are JSON objects (`{"best": 0.12, ...}`), or null;
  `reported_from` says which (`Execution time`, `JSON best`, `JSON time`);
- `reported_cpu`: the same for `CPU time: <s>s` lines (the script's own CPU time of its
  workload, e.g. from time.process_time()), or null;
- `preempted`: involuntary context switches (how often the test was pushed off the CPU);
- `exit_code`, `tests` (pytest) for the number of tests run, and `statuses` (pytest): each
  test's status (PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS), which the judge reads:
  a skipped or xfailed efficiency test is not a timing (kinds/judge/judge.py).

The timed part: with `pytest`, the call phases of the tests, run inside this process
(`pytest.main`), so interpreter start-up, imports and collection are not counted; a node id
that collects no test, or a test that does not pass, is a non-zero exit code. With
`process`, the child process and whatever it waited for, from start to exit.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time

MARKER = "OHBENCH_PERF_RESULT"
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)"
_EXECUTION_TIME = re.compile(rf"^\s*Execution time:\s*{_NUMBER}\s*s?\s*$", re.MULTILINE)
_CPU_TIME = re.compile(rf"^\s*CPU time:\s*{_NUMBER}\s*s?\s*$", re.MULTILINE)
_TAIL = 2000  # characters of the test's output kept for the logs


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _emit(result: dict, output: str = "") -> int:
    if output:
        sys.stdout.write(output[-_TAIL:] + ("" if output.endswith("\n") else "\n"))
    sys.stdout.write(f"{MARKER} {json.dumps(result)}\n")
    sys.stdout.flush()
    return 0


# A test reported in several phases keeps its worst status (a teardown error after a pass).
_SEVERITY = {"ERROR": 4, "FAILED": 3, "SKIPPED": 2, "XFAIL": 1, "XPASS": 0, "PASSED": 0}


def _status(report) -> str | None:
    """One phase report's status: the call phase's, or a setup/teardown that did not pass."""
    xfail = hasattr(report, "wasxfail")
    if report.when != "call" and report.passed:
        return None
    if report.failed:
        return "FAILED" if report.when == "call" else "ERROR"
    if report.skipped:
        return "XFAIL" if xfail else "SKIPPED"
    return "XPASS" if xfail else "PASSED"


def reported_figure(output: str) -> tuple[float | None, str | None]:
    """The script's own timing of its workload: (seconds, where it came from) or (None, None)."""
    reported = [float(value) for value in _EXECUTION_TIME.findall(output)]
    if reported:
        return sum(reported), "Execution time"
    for key in ("best", "time"):
        found = []
        for line in output.splitlines():
            line = line.strip()
            if not (line.startswith("{") and line.endswith("}")):
                continue
            try:
                data = json.loads(line)
            except ValueError:
                continue
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                found.append(float(value))
        if found:
            return sum(found), f"JSON {key}"
    return None, None


def time_pytest(node_ids: list[str]) -> int:
    """Run the node ids with pytest in this process; time only the tests' call phases."""
    import pytest

    class Recorder:
        def __init__(self) -> None:
            self.wall = self.cpu = 0.0
            self.preempted = self.tests = 0
            self.failed = False
            self.statuses: dict[str, str] = {}

        # Old-style wrapper: task images may have an old pytest.
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            before = (time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
            yield
            wall, me, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            self.wall += wall - before[0]
            self.cpu += _cpu(me) - _cpu(before[1]) + _cpu(children) - _cpu(before[2])
            self.preempted += me.ru_nivcsw - before[1].ru_nivcsw
            self.tests += 1

        def pytest_runtest_logreport(self, report) -> None:
            if report.failed:
                self.failed = True
            status = _status(report)
            if status is not None and _SEVERITY[status] >= _SEVERITY.get(self.statuses.get(report.nodeid, "PASSED"), 0):
                self.statuses[report.nodeid] = status

    recorder = Recorder()
    code = int(pytest.main([*node_ids, "-q", "-p", "no:cacheprovider"], plugins=[recorder]))
    sys.stdout.flush()
    if code == 0 and (recorder.failed or not recorder.tests):
        code = 1
    return _emit({
        "wall": recorder.wall, "cpu": recorder.cpu, "reported": None, "reported_cpu": None, "preempted": recorder.preempted,
        "exit_code": code, "tests": recorder.tests, "statuses": recorder.statuses,
    })


def time_process(argv: list[str]) -> int:
    """Run `argv` as a child process and time it (with the figures it reports, if any)."""
    started = time.perf_counter()
    try:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        return _emit({"wall": 0.0, "cpu": 0.0, "reported": None, "reported_cpu": None, "preempted": 0,
                      "exit_code": 127, "tests": 0}, str(exc))
    assert child.stdout is not None
    data = child.stdout.read()
    # wait4: the child's own usage, including the children it waited for.
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    output = data.decode("utf-8", errors="replace")
    reported, reported_from = reported_figure(output)
    reported_cpu = [float(value) for value in _CPU_TIME.findall(output)]
    return _emit({
        "wall": wall, "cpu": _cpu(usage), "reported": reported, "reported_from": reported_from,
        "reported_cpu": sum(reported_cpu) if reported_cpu else None,
        "preempted": usage.ru_nivcsw, "exit_code": child.returncode, "tests": 0,
    }, output)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "pytest":
        return time_pytest(argv[1:])
    if len(argv) >= 3 and argv[0] == "process" and argv[1] == "--":
        return time_process(argv[2:])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
