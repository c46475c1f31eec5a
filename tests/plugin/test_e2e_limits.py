"""Out of memory is not out of time: the runtime tells them apart, the check records OOM as its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest
from tinysuite import FIXED_CALC, diff_for, make_tiny_suite, write_predictions

from pytest_ohbench.runtime.docker.runtime import DockerRuntime

pytestmark = pytest.mark.docker
HOG = "python3 -c \"ballast = b'x' * (2 << 30)\""  # 2 GiB, far past the containers' limits below


@pytest.fixture
def small_runtime(docker_client: docker.DockerClient, base_image: str) -> Iterator[DockerRuntime]:
    started = DockerRuntime.start(
        docker_client, base_image, run_id="test-limits", instance_id="oom__x-1", workdir="/tmp", memory="128m"
    )
    yield started
    started.remove()


def test_an_oom_kill_is_not_a_timeout_and_a_kill_before_the_limit_is_neither(small_runtime: DockerRuntime) -> None:
    oom = small_runtime.execute(HOG, timeout=60)
    assert (oom.exit_code, oom.oom_killed, oom.timed_out) == (137, True, False)
    assert oom.duration < 30
    killed = small_runtime.execute("kill -9 $$", timeout=60)
    assert (killed.exit_code, killed.oom_killed, killed.timed_out) == (137, False, False)
    slow = small_runtime.execute("sleep 30", timeout=1)
    assert (slow.timed_out, slow.oom_killed) == (True, False)
    assert not small_runtime.execute("true", timeout=5).oom_killed  # an earlier OOM is not counted again


def test_tests_killed_for_memory_are_unresolved_with_reason_oom_killed(pytester: pytest.Pytester, base_image: str) -> None:
    suite = pytester.mkdir("tiny")
    make_tiny_suite(suite)  # containers get 512m
    # The "fix" also allocates 2 GiB on import: the test run is OOM-killed (exit 137) at once.
    patch = diff_for(suite / "repos" / "calc", pytester.path / "hog", {"calc.py": FIXED_CALC + "\nballast = b'x' * (2 << 30)\n"})
    preds = write_predictions(pytester.path / "preds.jsonl", patch)
    result = pytester.runpytest_subprocess("tiny", "--agent", "replay", "--ohbench-predictions", str(preds))
    [record] = [json.loads(line) for line in (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()]
    assert (record["outcome"], record["reason"].split(":")[0]) == ("unresolved", "oom_killed")
    assert "more memory than the container has" in record["reason"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["tiny__calc-1: unresolved (oom_killed: the test run was killed for using more memory than the container has*"])
    assert record["durations"]["check"] < 60
