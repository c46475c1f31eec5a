"""Runs that end badly still account for every item and leave no container behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import docker
import pytest

from pytest_ohbench.runtime.docker.runtime import CONTROLLER_LABEL, RUN_LABEL

pytestmark = pytest.mark.docker

# Kills the xdist worker running one chosen item, as an out-of-memory kill would.
CRASHING_CONFTEST = """
import os, signal

def pytest_runtest_setup(item):
    if "textkit-2" in item.nodeid and os.environ.get("PYTEST_XDIST_WORKER"):
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_item_on_a_crashed_worker_is_recorded(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    pytester.makeconftest(CRASHING_CONFTEST)
    result = pytester.runpytest_subprocess("suites", "--agent", "oracle", "-n", "2", "--ohbench-run-id", "crash")
    records = [json.loads(line) for line in (pytester.path / "reports" / "crash" / "results.jsonl").read_text().splitlines()]
    by_id = {record["instance_id"]: record for record in records}
    assert len(records) == 5, "every collected item has a record"
    crashed = by_id["ohbench__textkit-2"]
    assert crashed["outcome"] == "infra_error" and crashed["error"].startswith("worker crashed")
    assert crashed["suite"] == "examples-swe" and crashed["dataset"].endswith("swe-bench.jsonl") and crashed["agent"] == "oracle"
    assert [r["outcome"] for i, r in by_id.items() if i != "ohbench__textkit-2"] == ["resolved"] * 4
    summary = json.loads((pytester.path / "reports" / "crash" / "summary.json").read_text())
    assert summary["totals"]["items"] == 5 and summary["totals"]["outcomes"]["infra_error"] == 1
    assert result.ret != pytest.ExitCode.OK


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_later_run_removes_containers_of_a_killed_controller(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    host = socket.gethostname()
    orphan = docker_client.containers.run(
        base_image, ["sleep", "infinity"], detach=True, network_mode="none",
        labels={RUN_LABEL: "killed-run", CONTROLLER_LABEL: f"{host}:{_dead_pid()}"},
    )
    # A container of a controller that is still alive (this test process) must be kept.
    alive = docker_client.containers.run(
        base_image, ["sleep", "infinity"], detach=True, network_mode="none",
        labels={RUN_LABEL: "live-run", CONTROLLER_LABEL: f"{host}:{os.getpid()}"},
    )
    try:
        result = pytester.runpytest_subprocess("suites", "--agent", "noop", "-k", "textkit-1")
        result.stdout.fnmatch_lines(["*removed 1 containers of runs whose controller is gone*"])
        deadline = time.monotonic() + 10
        while orphan.id in {c.id for c in docker_client.containers.list(all=True)} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert orphan.id not in {c.id for c in docker_client.containers.list(all=True)}
        alive.reload()
        assert alive.status == "running"
    finally:
        for container in (orphan, alive):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
