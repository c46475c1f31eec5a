"""Progress lines on long runs, and the run's wall time apart from the summed item time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_ohbench.report.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_items(progress: Progress, clock: Clock, count: int, seconds: float = 1.0, resolved_every: int = 2) -> list[tuple[int, str]]:
    lines = []
    for _ in range(count):
        clock.now += seconds
        line = progress.finished(progress.done % resolved_every == 0, 0.01)
        if line:
            lines.append((progress.done, line))
    return lines


def test_automatic_cadence_is_a_tenth_of_the_run_and_the_last_item() -> None:
    clock = Clock()
    progress = Progress(None, clock)
    progress.total = 100
    lines = run_items(progress, clock, 100)
    assert [done for done, _ in lines] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert lines[0][1] == "ohbench progress: 10/100 items, 5 resolved, $0.1000 spent, 0:00:10 elapsed, ETA 0:01:30"
    assert lines[-1][1] == "ohbench progress: 100/100 items, 50 resolved, $1.0000 spent, 0:01:40 elapsed"  # no ETA at the end


def test_slow_items_get_a_line_at_least_once_a_minute() -> None:
    clock = Clock()
    progress = Progress(None, clock)
    progress.total = 1000
    lines = run_items(progress, clock, 6, seconds=25.0)  # a line every 100 items would be hours apart
    assert [done for done, _ in lines] == [3, 6]
    assert lines[0][1].endswith("0:01:15 elapsed, ETA 6:55:25")


def test_short_runs_get_only_the_last_line_and_explicit_steps_are_kept() -> None:
    clock = Clock()
    short = Progress(None, clock)
    short.total = 4
    assert [done for done, _ in run_items(short, clock, 4)] == [4]
    every_two = Progress(2, clock)
    every_two.total = 5
    assert [done for done, _ in run_items(every_two, clock, 5)] == [2, 4, 5]
    never = Progress(0, clock)
    never.total = 5
    assert run_items(never, clock, 5) == [] and never.done == 5


def test_an_unknown_total_has_no_eta() -> None:
    clock = Clock()
    progress = Progress(1, clock)
    clock.now += 3
    assert progress.finished(True, 0.5) == "ohbench progress: 1/? items, 1 resolved, $0.5000 spent, 0:00:03 elapsed"


PROGRESS = re.compile(r"^ohbench progress: (\d+)/(\d+) items, 0 resolved, \$0\.0000 spent, \d+:\d\d:\d\d elapsed", re.M)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_progress_lines_serial_and_under_xdist_and_wall_time(pytester: pytest.Pytester, swe_suite: Path, workers: list[str]) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-run-id", "p", "--ohbench-progress", "2", *workers)
    result.assert_outcomes(failed=5)
    out = result.stdout.str()
    assert [(int(a), int(b)) for a, b in PROGRESS.findall(out)] == [(2, 5), (4, 5), (5, 5)]
    summary = json.loads((pytester.path / "reports" / "p" / "summary.json").read_text())
    assert summary["wall_source"] == "measured" and summary["wall_seconds"] > 0
    totals = summary["totals"]
    assert totals["item_seconds"] == pytest.approx(totals["agent_seconds"] + totals["harness_seconds"], abs=2e-3)
    assert f"wall time {summary['wall_seconds']:.1f} s; item time summed {totals['item_seconds']:.1f} s" in out


def test_quiet_runs_print_no_progress_unless_asked(pytester: pytest.Pytester, swe_suite: Path) -> None:
    quiet = pytester.runpytest_subprocess("suites", "--agent", "noop", "-q")
    assert "ohbench progress" not in quiet.stdout.str()
    asked = pytester.runpytest_subprocess("suites", "--agent", "noop", "-q", "--ohbench-progress", "5")
    assert PROGRESS.findall(asked.stdout.str()) == [("5", "5")]
    default = pytester.runpytest_subprocess("suites", "--agent", "noop")
    assert PROGRESS.findall(default.stdout.str()) == [("5", "5")]  # a short run: its last line only


def test_a_resumed_run_adds_up_the_wall_time_of_its_sessions(pytester: pytest.Pytester, swe_suite: Path) -> None:
    # A budget of 0 starts nothing; the resume runs every item.
    pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-run-id", "r", "--ohbench-max-cost", "0")
    summary_path = pytester.path / "reports" / "r" / "summary.json"
    earlier = json.loads(summary_path.read_text())
    assert earlier["totals"]["outcomes"]["not_run"] == 5 and earlier["wall_source"] == "measured"
    summary_path.write_text(json.dumps({**earlier, "wall_seconds": 1000.0}))  # as if the first session took 1000 s
    pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-resume", "reports/r")
    resumed = json.loads(summary_path.read_text())
    assert resumed["totals"]["outcomes"]["empty_patch"] == 5
    assert 1000.0 < resumed["wall_seconds"] < 1000.0 + 300
