"""The timer and the commit-to-record command, on the host with real git and real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ohbench.kinds.perf.loader import parse_efficiency_test
from pytest_ohbench.kinds.perf.measure import Measurement, TimedRunner, measure, rotation
from pytest_ohbench.runtime.local import LocalRuntime
from pytest_ohbench.tools.testing import perf_calibration as calib

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture(autouse=True)
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timed pytest runs on the host start without this venv's plugins (as in a task image)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
    return subprocess.run(command, cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def calib_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """The calibration repository with a base commit and a 5x faster head that adds a speed test."""
    repo = tmp_path / "calib"
    for name, text in calib.repo_files().items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calib" / "work.py").write_text(calib.repo_files(calib.HUMAN_SCALE)["calib/work.py"])
    with (repo / "tests" / "test_work.py").open("a") as handle:
        handle.write("\n\ndef test_spin_speed():\n    assert spin() == spin()\n")
    git(repo, "commit", "-q", "-am", "spin: less work\n\nFive times less.")
    return repo, base, git(repo, "rev-parse", "HEAD").strip()


def runner(folder: Path) -> TimedRunner:
    return TimedRunner(LocalRuntime.on_host(folder), str(folder.parent / f"support-{folder.name}"), python=sys.executable)


def test_timer_forms_on_the_host(calib_repo: tuple[Path, str, str]) -> None:
    repo = calib_repo[0]
    tests = [
        parse_efficiency_test(calib.BENCHMARK, 0),  # prints Execution time and CPU time
        parse_efficiency_test("tests/test_work.py::test_spin_of_one_unit", 1),
        parse_efficiency_test("python3 -c 'import calib.work as w; w.spin()'", 2),
    ]
    timed = runner(repo)
    timed.prepare(tests)
    script, node, command = (timed.run(t, timeout=120) for t in tests)
    assert script.ok and script.reported is not None and script.reported_cpu is not None
    assert script.seconds("wall") == script.reported and script.seconds("cpu") == script.reported_cpu
    assert script.cpu >= script.reported_cpu  # the whole process, start-up included
    assert node.ok and node.reported is None and 0 < node.cpu < 5
    assert command.ok and command.seconds("wall") == command.wall and command.cpu > 0
    failing = parse_efficiency_test("tests/test_work.py::test_no_such_test", 3)
    assert not timed.run(failing, timeout=120).ok
    exists = timed.exists_command(failing)
    assert exists and LocalRuntime.on_host(repo).execute(exists).exit_code != 0
    assert LocalRuntime.on_host(repo).execute(timed.exists_command(tests[1]) or "false").exit_code == 0


def test_measure_interleaves_rotates_and_extends(calib_repo: tuple[Path, str, str], tmp_path: Path) -> None:
    repo = calib_repo[0]
    test = parse_efficiency_test("python3 -c 'import calib.work as w; w.spin(1)'", 0)
    runners = {}
    for state in ("base", "agent", "human"):
        folder = tmp_path / state
        git(repo, "worktree", "add", "-q", "--detach", str(folder), calib_repo[1])
        runners[state] = runner(folder)
        runners[state].prepare([test])
    log = tmp_path / "timings.log"
    result = measure(runners, [test], repeats=3, warmups=1, timeout=120, log_path=log)
    assert result.failure is None
    assert result.order == [rotation(["base", "agent", "human"], i) for i in range(4)]
    assert result.order[1] == ["agent", "human", "base"]
    assert {s: len(v) for s, v in result.timings[test.name].items()} == {"base": 3, "agent": 3, "human": 3}
    assert all(len(v) == 1 for v in result.warmup_timings[test.name].values())
    assert result.raw[test.name]["base"]["cpu"] == result.timings[test.name]["base"]  # no reported figures
    more = measure(runners, [test], repeats=2, warmups=0, timeout=120, log_path=log, more_of=result)
    assert more is result and more.repeats == 5 and len(more.order) == 6
    assert more.order[4] == rotation(["base", "agent", "human"], 4)
    assert len(log.read_text().splitlines()) == 3 * 6
    assert isinstance(Measurement(**json.loads(json.dumps(more.to_dict()))), Measurement)


def test_measure_stops_at_a_failing_state(calib_repo: tuple[Path, str, str], tmp_path: Path) -> None:
    repo = calib_repo[0]
    test = parse_efficiency_test("tests/test_work.py::test_spin_of_one_unit", 0)
    broken = tmp_path / "broken"
    git(repo, "worktree", "add", "-q", "--detach", str(broken), calib_repo[1])
    (broken / "calib" / "work.py").write_text("def spin(units=None):\n    return 0\n")
    runners = {"base": runner(repo), "agent": runner(broken)}
    for r in runners.values():
        r.prepare([test])
    result = measure(runners, [test], repeats=3, warmups=0, timeout=120)
    assert result.failure is not None
    assert (result.failure["state"], result.failure["test"], result.failure["round"]) == ("agent", test.name, "round 1")


def record_command(repo: Path, base: str, head: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest_ohbench.tools.perf_record", str(repo), base, head, "--repeats", "3", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_perf_record_makes_an_iso_bench_record(calib_repo: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, base, head = calib_repo
    out = tmp_path / "perf.jsonl"
    done = record_command(repo, base, head, "--repo-name", "acme/calib", "-o", str(out), "--target-file", "calib/work.py")
    assert done.returncode == 0, done.stderr
    assert "human speedup" in done.stderr
    record = json.loads(out.read_text())
    assert (record["repo"], record["instance_id"]) == ("acme/calib", f"acme__calib-{head[:7]}")
    assert (record["base_commit"], record["head_commit"]) == (base, head)
    # Split by path: the source change in patch, the test change in test_patch.
    assert "calib/work.py" in record["patch"] and "tests/" not in record["patch"]
    assert "tests/test_work.py" in record["test_patch"] and "calib/work.py" not in record["test_patch"]
    # Found among the changed tests: the one whose name speaks of speed.
    assert record["efficiency_test"] == ["tests/test_work.py::test_spin_speed"]
    assert record["test_functions"] == ["tests/test_work.py::test_spin_speed"]
    assert record["patch_functions"] == []  # a module constant changed, no function
    (change,) = record["duration_changes"]
    assert len(change["base"]) == len(change["head"]) == 3
    assert record["human_performance"] > 2.5  # 5x less work; host noise allowed for
    assert record["gt_commit_message"].startswith("spin: less work")
    assert record["target_files"] == ["calib/work.py"]
    assert "cpu seconds, 3 interleaved rounds" in record["notes"]
    # The record loads as a perf task.
    from pytest_ohbench.kinds.rows import task_from_row

    assert task_from_row(record, "perf.jsonl:1").kind == "perf"


def test_perf_record_refuses_a_missing_efficiency_test(calib_repo: tuple[Path, str, str]) -> None:
    repo, base, head = calib_repo
    done = record_command(repo, base, head, "--efficiency-test", "tests/test_work.py::test_nope")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"perf_record: error: efficiency test tests/test_work.py::test_nope does not exist at base ({base[:12]})"
    )
    swapped = record_command(repo, head, head)
    assert swapped.returncode == 1 and "changes no source file" in swapped.stderr
