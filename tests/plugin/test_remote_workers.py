"""Workers on another host, through xdist's own engine (`-d --tx ssh=...`): a second host made in
a network namespace of this machine (its own address, sshd and Docker engine: namespace_host.py).

The remote worker runs in a folder of its own (xdist's rsync roots, `//chdir=`), builds its
images on its own engine, reaches the controller's gateway at --ohbench-gateway-host through
a socket of its own host (its agents' containers are sealed there too), and sends each item's
logs back with its record; the controller's run folder ends up as a local run's would. A host
that dies mid-run loses no record: the item it was running goes to another worker.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_agent import CLI_TEMPLATE
from conftest import BASE_IMAGE
from namespace_host import NamespaceHost

from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.docker
SECRET = "sk-remote-never-leaves-the-controller-5e1b"
TRUNCATE_ISSUE = "truncate returns one character too many"
TOUCHING_ISSUE = "Touching intervals do not overlap"
FIX_TRUNCATE = "sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py"
FIX_TOUCHING = ("sed -i 's/self.start < other.end and other.start < self.end/"
                "self.start <= other.end and other.start <= self.end/' intervals/core.py")


@pytest.fixture
def namespace_host(base_image: str) -> Iterator[NamespaceHost]:
    with NamespaceHost(BASE_IMAGE) as host:
        yield host


def records(run: Path) -> dict[str, dict[str, Any]]:
    lines = (run / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


def remote_args(pytester: pytest.Pytester, host: NamespaceHost, *tx: str) -> list[str]:
    """The suite and rsync root as absolute paths (xdist maps them into the remote folder), and the --tx specs."""
    specs = [arg for spec in tx for arg in ("--tx", spec)]
    return [str(pytester.path / "suites" / "swe"), "-d", "--rsyncdir", str(pytester.path / "suites"), *specs,
            "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]


def test_a_remote_worker_gives_the_records_and_logs_of_a_local_run(
    pytester: pytest.Pytester, swe_suite: Path, namespace_host: NamespaceHost
) -> None:
    remote_dir = pytester.path.parent / f"{pytester.path.name}-remote"  # the remote worker's own folder
    scripts = [{"match": TRUNCATE_ISSUE, "responses": [{"content": FIX_TRUNCATE, "usage": {"prompt_tokens": 300, "completion_tokens": 20}}]},
               {"match": TOUCHING_ISSUE, "responses": [{"content": FIX_TOUCHING, "usage": {"prompt_tokens": 200, "completion_tokens": 10}}]}]
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.gpt]\nmodel = "openai/gpt-4o"\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\n'
            "input_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n")
        agent = ["--agent", "command", "--ohbench-command", CLI_TEMPLATE, "--llm-config", "gpt", "-k", "textkit-2 or intervals-1"]
        remote = pytester.runpytest_subprocess(
            *remote_args(pytester, namespace_host, namespace_host.tx_spec(sys.executable, remote_dir)), *agent,
            "--ohbench-gateway-host", namespace_host.peer, "--ohbench-run-id", "remote")
        local = pytester.runpytest_subprocess("suites", *agent, "--ohbench-run-id", "local")
        calls = len(server.requests)
    remote.assert_outcomes(passed=2)
    local.assert_outcomes(passed=2)
    assert calls == 4  # each run's two agents called the LLM once, through the gateway
    reports = pytester.path / "reports"
    far, near = records(reports / "remote"), records(reports / "local")
    assert set(far) == set(near) == {"ohbench__textkit-2", "ohbench__intervals-1"}
    for instance, record in far.items():
        same = near[instance]
        for field in ("outcome", "patch", "tests", "input_tokens", "output_tokens", "cost_usd", "llm_calls", "network"):
            assert record[field] == same[field], (instance, field)
        assert record["network"] == "sealed" and record["llm_calls"] == 1
        # Its containers ran on the other host's engine.
        assert record["engine"] == namespace_host.docker_host and same["engine"] != namespace_host.docker_host
        # Its logs came back over xdist's channel into the controller's run folder.
        logs = pytester.path / record["log_dir"]
        assert logs.parent.parent == reports / "remote" and (logs / "test_output.txt").is_file()
        assert "running: sed -i" in (logs / "agent.log").read_text()
        assert (remote_dir / record["log_dir"] / "test_output.txt").is_file()  # the worker wrote them there first
    assert not (remote_dir / "config.toml").exists()  # the worker got the section from the controller, keyless
    assert SECRET not in "".join(p.read_text(errors="replace") for p in remote_dir.rglob("*") if p.is_file() and p.suffix != ".pyc")
    with namespace_host.client() as client:
        assert any(tag.startswith("ohbench-build/") for image in client.images.list() for tag in image.tags)
    assert "ohbench__textkit-2" in (reports / "remote" / "report.html").read_text()


def test_a_host_that_dies_mid_run_loses_no_record(
    pytester: pytest.Pytester, swe_suite: Path, namespace_host: NamespaceHost
) -> None:
    """One worker here, one on the namespace host; the host dies while its agent works."""
    remote_dir = pytester.path.parent / f"{pytester.path.name}-remote"
    command = f"sleep 4; {FIX_TRUNCATE} 2>/dev/null; {FIX_TOUCHING} 2>/dev/null; true"
    killed = threading.Event()

    def kill_when_busy() -> None:
        with namespace_host.client() as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed.is_set():
                if client.containers.list(filters={"label": "ohbench.run_id=dies"}):
                    time.sleep(1)  # its agent is at work
                    namespace_host.die()
                    killed.set()
                    return
                time.sleep(0.2)

    watcher = threading.Thread(target=kill_when_busy, daemon=True)
    watcher.start()
    result = pytester.runpytest_subprocess(
        *remote_args(pytester, namespace_host, "popen", namespace_host.tx_spec(sys.executable, remote_dir)),
        "--agent", "command", "--ohbench-command", command, "--ohbench-retries", "1", "--ohbench-run-id", "dies")
    killed.set()
    watcher.join()
    assert killed.is_set()
    run = pytester.path / "reports" / "dies"
    found = records(run)
    assert len(found) == 5 and len((run / "results.jsonl").read_text().splitlines()) == 5
    assert {i for i, r in found.items() if r["outcome"] == "resolved"} == {"ohbench__textkit-2", "ohbench__intervals-1"}
    assert {r["outcome"] for r in found.values()} == {"resolved", "unresolved"}  # none lost, none infra_error
    moved = [r for r in found.values() if r.get("retry_history")]
    assert moved, result.stdout.str()
    for record in moved:
        assert record["retry_history"][0]["failure_class"] == "worker_lost"
        assert record["engine"] != namespace_host.docker_host  # judged on a live host
        assert (pytester.path / record["log_dir"] / "test_output.txt").is_file()
    result.assert_outcomes(passed=2, failed=3)
