"""--ohbench-retries retries infrastructure failures only: an agent stage the kernel OOM-killed
is run again with twice the memory (up to 4x the suite's) and recorded as such; a judged
failure and a harness error with no infrastructure cause are never retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tinysuite import make_tiny_suite, write_predictions

pytestmark = pytest.mark.docker

MIB = 1 << 20
LIMIT = 192 * MIB  # the suite's container memory
# The agent: hold `size` bytes (killed by the kernel when the container is smaller), then fix the bug.
AGENT = "python3 -c \"ballast = b'x' * {size}\" && sed -i 's/a - b/a + b/' calc.py"


def swap_allowance() -> int:
    """How many times its limit a container may hold: twice with host swap (Docker's default)."""
    meminfo = Path("/proc/meminfo").read_text()
    swap = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("SwapTotal:"))
    return 2 if swap else 1


@pytest.fixture
def project(tmp_path: Path, base_image: str) -> Path:
    patches = make_tiny_suite(tmp_path / "suites" / "tiny")
    suite = tmp_path / "suites" / "tiny" / "suite.yaml"
    suite.write_text(suite.read_text().replace("memory: 512m", "memory: 192m"))
    write_predictions(tmp_path / "wrong.jsonl", patches["wrong"])
    return tmp_path


def run(project: Path, *args: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
    command = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "--ohbench-run-id", "r", *args]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTEST_ADDOPTS": ""})
    lines = (project / "reports" / "r" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1, result.stdout[-3000:]
    return json.loads(lines[0]), result


def test_an_oom_killed_agent_is_retried_once_with_twice_the_memory(project: Path) -> None:
    size = int(1.5 * LIMIT) * swap_allowance()  # past the suite's limit, within twice it
    agent = ("--agent", "command", "--ohbench-command", AGENT.format(size=size))
    record, result = run(project, *agent, "--ohbench-retries", "2")
    assert record["outcome"] == "resolved", result.stdout[-3000:]
    assert (record["retries"], record["memory"], record["failure_class"]) == (1, 2 * LIMIT, "")
    [first] = record["retry_history"]
    assert (first["outcome"], first["failure_class"], first["memory"]) == ("empty_patch", "oom_agent", None)
    # Without retries the same item is recorded with its cause.
    (project / "reports" / "r" / "results.jsonl").unlink()
    record, _ = run(project, *agent)
    assert (record["outcome"], record["failure_class"], record["retries"], record["retry_history"]) == ("empty_patch", "oom_agent", 0, [])


def test_memory_doubles_up_to_four_times_the_suites_then_the_retries_stop(project: Path) -> None:
    agent = ("--agent", "command", "--ohbench-command", AGENT.format(size=2 << 30))  # never fits
    record, _ = run(project, *agent, "--ohbench-retries", "5")
    assert (record["outcome"], record["failure_class"], record["retries"], record["memory"]) == ("empty_patch", "oom_agent", 2, 4 * LIMIT)
    assert [(t["failure_class"], t["memory"]) for t in record["retry_history"]] == [("oom_agent", None), ("oom_agent", 2 * LIMIT)]


def test_judged_failures_are_not_retried(project: Path) -> None:
    record, _ = run(project, "--agent", "replay", "--ohbench-predictions", "wrong.jsonl", "--ohbench-retries", "2")
    assert (record["outcome"], record["failure_class"], record["retries"]) == ("unresolved", "", 0)


def test_a_failed_image_pull_is_retried_each_try_for_real(project: Path) -> None:
    """The image is pulled from a registry on this host's loopback that does not answer: each
    try asks the engine again (a retry that only repeated the first try's error would not)."""
    suite = project / "suites" / "tiny" / "suite.yaml"
    suite.write_text("name: tiny\nimage: {template: '127.0.0.1:9/ohbench/absent:{instance_id}', pull: true}\n")
    record, _ = run(project, "--agent", "oracle", "--ohbench-retries", "2")
    assert (record["outcome"], record["failure_class"], record["retries"]) == ("build_error", "image_pull", 2)
    assert "pull failed" in record["error"]
    assert [t["failure_class"] for t in record["retry_history"]] == ["image_pull", "image_pull"]
    assert record["durations"].get("image", 0) > 0  # the last try resolved its image itself, not replayed a stored error
