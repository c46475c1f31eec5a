"""Workers on other machines (xdist `-d --tx ssh=...` / `--tx socket=...`).

A worker is remote when its run folder is not the controller's: xdist started it in a folder
of its own (`//chdir=`, the rsync roots), on another host. Such a worker
- gets the --llm-config sections from the controller, without their keys (the gateway, in
  the controller, holds them; a remote host never sees one), instead of reading config.toml;
- reaches the gateway at the address --ohbench-gateway-host names, and its sealed agent
  containers reach it through a unix socket of its own that forwards there (gateway/forwarder.py);
- sends each item's log folder back with the item's record (a tar.gz in the teardown
  report, over xdist's channel): the controller unpacks it into its own run folder, so
  records, logs, trajectories and the report are the same as a local run's.
When a worker's host dies, xdist reports the item it was running as crashed; with
--ohbench-retries the controller puts that item back in the queue for another worker (its
record keeps the crash in `retry_history`), else it is recorded infra_error. A replacement
worker is started on a live worker's host, not on the dead one.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import socket
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.core.failures import WORKER_LOST
from pytest_ohbench.core.llm import LLMConfig

WORKER_RUN_DIR = "ohbench_run_dir"  # the controller's run folder, absolute
WORKER_LLMS = "ohbench_llm_sections"  # the sections, without keys, for remote workers
LOGS_ATTRIBUTE = "ohbench_logs"  # the teardown report's tar.gz of the item's log folder (base64)
CRASH_REASON = "worker crashed"
REMOTE_PLUGIN = "ohbench-remote-nodes"


def keyless(llm: LLMConfig) -> dict[str, Any]:
    """`llm` as workerinput carries it: every field but its secrets."""
    return dataclasses.asdict(llm.without_secrets())


def worker_sections(workerinput: dict[str, Any]) -> dict[str, LLMConfig] | None:
    """The sections the controller sent, for a remote worker (None: read config.toml as usual)."""
    raw = workerinput.get(WORKER_LLMS)
    return None if raw is None else {name: LLMConfig(**fields) for name, fields in raw.items()}


def controller_run_dir(workerinput: dict[str, Any] | None) -> Path | None:
    raw = (workerinput or {}).get(WORKER_RUN_DIR)
    return Path(raw) if raw else None


def is_remote(workerinput: dict[str, Any] | None, own_run_dir: Path) -> bool:
    """A worker whose run folder is not the controller's (a serial run or the controller: False)."""
    theirs = controller_run_dir(workerinput)
    return theirs is not None and theirs != own_run_dir.resolve()


def pack_logs(folder: Path) -> str:
    """`folder`'s files as a base64 tar.gz (what crosses xdist's channel with the record)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def unpack_logs(data: str, folder: Path) -> None:
    """Unpack pack_logs' archive into `folder` (tarfile's data filter: no links out, no devices)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r:gz") as archive:
        archive.extractall(folder, filter="data")


def host_answers(spec: Any, timeout: float = 5.0) -> bool:
    """Whether the host of an xdist spec (ssh= or socket=) still takes connections; popen: True."""
    if getattr(spec, "socket", None):
        host, _, port = str(spec.socket).rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            return False
        return True
    if getattr(spec, "ssh", None):
        config = ["-F", spec.ssh_config] if getattr(spec, "ssh_config", None) else []
        command = ["ssh", *config, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(timeout)}", *str(spec.ssh).split(), "true"]
        try:
            return subprocess.run(command, capture_output=True, timeout=timeout + 5).returncode == 0
        except subprocess.TimeoutExpired:
            return False
    return True


class RemoteNodes:
    """Controller side, under xdist: the keyless sections and run folder for every worker, crashed
    items back in the queue while retries allow, and no replacement worker on a dead host."""

    def __init__(self, config: pytest.Config, run_dir: Path, llms: dict[str, LLMConfig], retries: int) -> None:
        self.config, self.run_dir, self.retries = config, run_dir, retries
        self.sections = {name: keyless(llm) for name, llm in llms.items()}
        self.live: dict[str, Any] = {}  # worker id -> node
        self.crashes: dict[str, list[dict[str, Any]]] = {}  # nodeid -> the crashes it was retried after

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_RUN_DIR] = str(self.run_dir.resolve())
        node.workerinput[WORKER_LLMS] = self.sections

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node: Any) -> None:
        self.live[node.gateway.id] = node

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.live.pop(node.gateway.id, None)
        if error is None or host_answers(node.gateway.spec):
            return
        # xdist replaces a crashed worker by one with the same spec: on a dead host that would
        # fail and end the run. Start it where a live worker runs instead.
        others = [other for other in self.live.values() if host_answers(other.gateway.spec)]
        if others:
            node.gateway.spec = copy.copy(others[0].gateway.spec)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        crashes = self.crashes.setdefault(crashitem, [])
        if len(crashes) >= self.retries:
            return  # recorded infra_error by the controller
        crashes.append({"outcome": "infra_error", "failure_class": WORKER_LOST, "error": f"{CRASH_REASON}: {report.longreprtext}",
                        "memory": None})
        sched.mark_test_pending(crashitem)
        report.outcome = "rerun"  # type: ignore[assignment]

    def earlier_crashes(self, nodeid: str) -> list[dict[str, Any]]:
        """The crashes `nodeid` was retried after, for its record's retry_history."""
        return list(self.crashes.get(nodeid, []))
