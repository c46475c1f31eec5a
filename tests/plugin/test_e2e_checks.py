"""Every outcome of the patch check, end to end on a real engine with a tiny suite."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import docker
import pytest
from conftest import interruptible
from tinysuite import make_tiny_suite, write_predictions

from pytest_ohbench.runtime.docker.runtime import RUN_LABEL

pytestmark = pytest.mark.docker


@pytest.fixture
def tiny(pytester: pytest.Pytester, base_image: str) -> dict[str, str]:
    return make_tiny_suite(pytester.mkdir("tiny"))


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[dict]]:
    result = pytester.runpytest_subprocess("tiny", *args)
    path = pytester.path / "reports" / "latest" / "results.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return result, records


def leftover_containers(client: docker.DockerClient, run_id: str, settle: float = 0.0) -> list:
    """Containers of the run still there (after up to `settle` seconds for removals under way)."""
    deadline = time.monotonic() + settle
    while True:
        # ignore_removed: a container the run removes between the listing and its inspection is gone.
        found = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}, ignore_removed=True)
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def test_oracle_resolves(pytester: pytest.Pytester, tiny: dict[str, str], docker_client: docker.DockerClient) -> None:
    result, [record] = run(pytester, "--agent", "oracle", "--ohbench-run-id", "tiny-oracle")
    result.assert_outcomes(passed=1)
    assert record["outcome"] == "resolved" and record["resolved"]
    assert record["fail_to_pass"] == {"success": ["tests/test_calc.py::test_add"], "failure": []}
    assert record["tests"]["tests/test_calc.py::test_mul"] == "PASSED"
    assert record["image"].startswith("ohbench-build/tiny-calc:")
    assert set(record["durations"]) >= {"image", "check", "total"}
    log_dir = pytester.path / record["log_dir"]
    assert "1 passed" not in (log_dir / "test_output.txt").read_text()  # all 3 tests ran
    assert "3 passed" in (log_dir / "test_output.txt").read_text()
    assert (log_dir / "patch.diff").read_text() == tiny["gold"]
    assert not leftover_containers(docker_client, "tiny-oracle")


@pytest.mark.parametrize(
    ("patch", "outcome", "verdict"),
    [
        # The verdict carries the cause: the last line of the strict `git apply`.
        ("broken", "patch_apply_failed", "*tiny__calc-1: patch_apply_failed (git apply, git apply --reject and patch all"
         " failed; git apply: error: calc.py: patch does not apply)*"),
        ("corrupt", "patch_apply_failed", "*tiny__calc-1: patch_apply_failed (*; git apply: error: corrupt patch at line 9)*"),
        ("wrong", "unresolved", "*FAIL_TO_PASS failing (1/1): tests/test_calc.py::test_add*"),
        # Edits the tests instead of the code: the checker restores them, the bug remains.
        ("cheat", "unresolved", "*FAIL_TO_PASS failing (1/1): tests/test_calc.py::test_add*"),
    ],
)
def test_replayed_patches_get_their_outcome(
    pytester: pytest.Pytester, tiny: dict[str, str], patch: str, outcome: str, verdict: str
) -> None:
    # A hunk line without its leading marker, as in a mangled model output.
    tiny["corrupt"] = tiny["gold"].replace("+    return a + b\n \n", "+    return a + b\nx\n")
    preds = write_predictions(pytester.path / "preds.jsonl", tiny[patch])
    result, [record] = run(pytester, "--agent", "replay", "--ohbench-predictions", str(preds))
    assert record["outcome"] == outcome
    result.stdout.fnmatch_lines([verdict])
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_tests_past_their_timeout(pytester: pytest.Pytester, base_image: str) -> None:
    make_tiny_suite(pytester.mkdir("tiny"), "test:\n  command: 'sleep 60'\ntimeouts:\n  tests: 2\n")
    result, [record] = run(pytester, "--agent", "oracle")
    assert record["outcome"] == "test_timeout"
    result.assert_outcomes(failed=1)
    assert record["durations"]["check"] < 30


def test_task_timeout_records_the_stage_and_cleans_up(
    pytester: pytest.Pytester, base_image: str, docker_client: docker.DockerClient
) -> None:
    # --timeout on the command line beats suite.yaml's task limit.
    make_tiny_suite(pytester.mkdir("tiny"), "test:\n  command: 'sleep 60'\ntimeouts:\n  tests: 100\n  task: 100\n")
    run(pytester, "--agent", "oracle", "--ohbench-run-id", "warm", "--timeout", "8")  # build outside the timer
    # 15 s: on a loaded machine the check's set-up (container, history strip, patches) must
    # still end before the limit, so that the timeout lands in the tests.
    result, [record] = run(pytester, "--agent", "oracle", "--ohbench-run-id", "tiny-timeout", "--timeout", "15")
    assert record["outcome"] == "test_timeout" and "Timeout" in record["error"] and "during stage check" in record["error"]
    assert record["durations"]["total"] < 30
    result.assert_outcomes(failed=1)  # judged: a pytest failure, not an error
    result.stdout.fnmatch_lines(["tiny__calc-1: test_timeout (*"])
    assert not leftover_containers(docker_client, "tiny-timeout", settle=20)


def test_failed_build_is_a_build_error(pytester: pytest.Pytester, base_image: str) -> None:
    make_tiny_suite(pytester.mkdir("tiny"), dockerfile="ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo cannot-build && false\n")
    result, [record] = run(pytester, "--agent", "oracle")
    assert record["outcome"] == "build_error"
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["tiny__calc-1: build_error: build of ohbench-build/tiny-calc:* failed: *"])


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_keeps_finished_results_and_removes_containers(
    pytester: pytest.Pytester, base_image: str, docker_client: docker.DockerClient, stop: signal.Signals
) -> None:
    suite = pytester.mkdir("tiny")
    make_tiny_suite(suite, "test:\n  command: 'if [ -e /testbed/.slow ]; then sleep 120; fi; python3 -m pytest -rA {test_files}'\n")
    row = json.loads((suite / "data.jsonl").read_text())
    slow_patch = row["patch"] + "diff --git a/.slow b/.slow\nnew file mode 100644\nindex 0000000..e69de29\n"
    rows = [row, {**row, "instance_id": "tiny__calc-2", "patch": slow_patch}]
    (suite / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "tiny", "--agent", "oracle", "--ohbench-run-id", "tiny-int", "-p", "no:cacheprovider"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=interruptible,
    )
    results = pytester.path / "reports" / "tiny-int" / "results.jsonl"
    try:
        deadline = time.monotonic() + 120
        # Wait until the first item is recorded and the slow one's container is up.
        while not (results.exists() and leftover_containers(docker_client, "tiny-int")):
            assert time.monotonic() < deadline, "the run never reached the slow item"
            time.sleep(0.5)
        time.sleep(2)
        process.send_signal(stop)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()  # never left running into the next test,
            process.wait()  # and reaped: a zombie's pid looks alive to the next run's orphan sweep
    assert "KeyboardInterrupt" in output
    [line] = results.read_text().splitlines()
    assert json.loads(line)["instance_id"] == "tiny__calc-1" and json.loads(line)["outcome"] == "resolved"
    assert not leftover_containers(docker_client, "tiny-int")
    # What finished is summarized and exported, as after a normal end.
    summary = json.loads((results.parent / "summary.json").read_text())
    assert summary["totals"]["items"] == 1 and summary["totals"]["resolved"] == 1
    assert (results.parent / "predictions.jsonl").is_file() and (results.parent / "run.json").is_file()
