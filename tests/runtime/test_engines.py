"""Several Docker engines: workers spread over them, a container limit per engine.

The second engine is a real dockerd of its own (own data root, exec root, pid file, unix
socket and network namespace; no bridge, no iptables) started for this module, with the
base image loaded into it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import BASE_IMAGE, _unavailable

from pytest_ohbench.runtime.docker.engines import EngineSlots
from pytest_ohbench.runtime.docker.runtime import RUN_LABEL
from pytest_ohbench.runtime.provider import engine_for_worker

FIRST = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


@pytest.fixture(scope="module")
def second_engine(base_image: str) -> Iterator[str]:
    """The URL of a second dockerd on its own unix socket, holding the base image."""
    if shutil.which("dockerd") is None or shutil.which("unshare") is None or os.geteuid() != 0:
        _unavailable("a second engine needs dockerd, unshare and root")
    # Short paths: containerd's socket lives below the exec root (unix socket paths are short).
    bridge = Path("/sys/class/net/docker0")
    had_bridge = bridge.exists()
    folder = Path(tempfile.mkdtemp(prefix="ohb-e2-", dir="/tmp"))
    (folder / "daemon.json").write_text("{}")  # not the host's /etc/docker/daemon.json
    socket = f"unix://{folder}/d.sock"
    log = (folder / "dockerd.log").open("wb")
    # Its own network namespace: a dockerd started with --bridge=none deletes the host's
    # docker0 interface (moby removes the default bridge it will not use), which the first
    # engine's bridge-networked containers need.
    daemon = subprocess.Popen(
        ["unshare", "--net", "dockerd", "--config-file", str(folder / "daemon.json"), "--data-root", str(folder / "data"),
         "--exec-root", str(folder / "x"), "--pidfile", str(folder / "d.pid"), "-H", socket,
         "--bridge=none", "--iptables=false"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        client = None
        for _ in range(120):
            try:
                client = docker.DockerClient(base_url=socket)
                client.ping()
                break
            except Exception:
                client = None
                time.sleep(0.25)
        if client is None:
            _unavailable(f"the second dockerd did not answer: {(folder / 'dockerd.log').read_text()[-300:]}")
        assert client is not None
        saved = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        assert saved.stdout is not None
        client.images.load(saved.stdout)
        assert saved.wait() == 0
        client.close()
        yield socket
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert bridge.exists() == had_bridge, "the second engine changed the host's docker0"


def test_workers_spread_round_robin() -> None:
    hosts = ("unix:///a", "unix:///b")
    assert [engine_for_worker(hosts, f"gw{i}") for i in range(4)] == ["unix:///a", "unix:///b", "unix:///a", "unix:///b"]
    assert engine_for_worker((), "gw1") is None


HOLD = """
import sys, time
from pytest_ohbench.runtime.docker.engines import EngineSlots
slots = EngineSlots(sys.argv[1], 2).try_acquire(int(sys.argv[2]))
print("got" if slots is not None else "none", flush=True)
time.sleep(float(sys.argv[3]))
"""


def test_slots_are_shared_between_processes_all_or_nothing(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/engine.sock"  # a name only: slots never talk to the engine
    holder = subprocess.Popen([sys.executable, "-c", HOLD, host, "1", "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "got"
        slots = EngineSlots(host, 2)
        assert slots.try_acquire(2) is None  # only one of two is free: none is taken
        one = slots.try_acquire(1)
        assert one is not None and slots.try_acquire(1) is None
        for slot in one:
            slot.release()
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing: its flock went with it.
    both = EngineSlots(host, 2).try_acquire(2)
    assert both is not None and len(both) == 2


def count_containers(hosts: list[str], run_id: str, peaks: dict[str, int], stop: threading.Event) -> None:
    """Poll each engine for the run's containers; keep the highest count seen."""
    clients = {host: docker.DockerClient(base_url=host) for host in hosts}
    while not stop.is_set():
        for host, client in clients.items():
            try:
                running = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}, ignore_removed=True)
            except docker.errors.DockerException:
                continue
            peaks[host] = max(peaks.get(host, 0), len(running))
        time.sleep(0.02)
    for client in clients.values():
        client.close()


@pytest.mark.docker
def test_two_engines_share_the_items_and_keep_their_limit(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, second_engine: str
) -> None:
    hosts = [FIRST, second_engine]
    peaks: dict[str, int] = {}
    stop = threading.Event()
    poller = threading.Thread(target=count_containers, args=(hosts, "engines", peaks, stop))
    poller.start()
    try:
        result = pytester.runpytest_subprocess(
            "suites/swe/swe-bench.jsonl", "--agent", "oracle", "-n", "4", "--ohbench-run-id", "engines",
            "--ohbench-docker-host", FIRST, "--ohbench-docker-host", second_engine, "--ohbench-max-containers", "2",
        )
    finally:
        stop.set()
        poller.join()
    rows = len((swe_suite / "swe-bench.jsonl").read_text().splitlines())
    result.assert_outcomes(passed=rows)
    lines = (pytester.path / "reports" / "engines" / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == rows
    assert {r["outcome"] for r in records} == {"resolved"}
    # Four workers, two engines: each engine ran items (workers gw0, gw2 on the first).
    assert {r["engine"] for r in records} == set(hosts)
    assert all(1 <= peaks.get(host, 0) <= 2 for host in hosts), peaks
    for host in hosts:
        client = docker.DockerClient(base_url=host)
        try:
            assert client.containers.list(all=True, filters={"label": f"{RUN_LABEL}=engines"}) == []
        finally:
            client.close()


@pytest.mark.docker
def test_an_unreachable_engine_is_one_usage_error(pytester: pytest.Pytester, swe_suite: Path, base_image: str, tmp_path: Path) -> None:
    missing = f"unix://{tmp_path}/nothing.sock"
    result = pytester.runpytest_subprocess(
        "suites/swe/swe-bench.jsonl", "--agent", "oracle", "--ohbench-docker-host", FIRST, "--ohbench-docker-host", missing
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().count(f"--ohbench-docker-host {missing}: Docker engine unreachable at {missing}") == 1
    assert not (pytester.path / "reports" / "latest").exists()


@pytest.mark.parametrize(("option", "message"), [
    (["--ohbench-docker-host", "localhost:2375"], "--ohbench-docker-host: expected a Docker engine URL"),
    (["--ohbench-max-containers", "1"], "--ohbench-max-containers: expected at least 2"),
])
def test_bad_engine_options_are_usage_errors(pytester: pytest.Pytester, option: list[str], message: str) -> None:
    result = pytester.runpytest_subprocess("--agent", "oracle", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
