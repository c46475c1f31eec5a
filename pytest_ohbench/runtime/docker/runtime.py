"""Docker runtime: one fresh, labeled, resource-limited container per task (docker SDK)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shlex
import socket
import tarfile
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors
import docker.utils
from docker.models.containers import Container
from docker.types import LogConfig

from pytest_ohbench.core.machine import is_alive
from pytest_ohbench.runtime.base import TIMEOUT_EXIT_CODES, ExecResult, under_timeout
from pytest_ohbench.runtime.docker.channel import ChannelBroken, ChannelHolder, ShellChannel, channel_enabled, main_command

RUN_LABEL = "ohbench.run_id"
INSTANCE_LABEL = "ohbench.instance_id"
# "<host>:<pid>" of the run's controller: a later run removes containers whose controller is gone.
CONTROLLER_LABEL = "ohbench.controller"
# `timeout`'s 137 (TIMEOUT_EXIT_CODES) is also what the kernel's OOM killer leaves: `execute`
# tells the two apart.
KILLED = 137
# The container's own memory cgroup (cgroup namespace): v2, then v1. Each has an `oom_kill N` line.
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
_OOM_KILL = re.compile(rb"^oom_kill (\d+)$", re.MULTILINE)


def docker_client(host: str | None = None) -> docker.DockerClient:
    """A client for the engine at `host` (a DOCKER_HOST-style URL: unix, tcp with the
    DOCKER_TLS_* settings, ssh), by default DOCKER_HOST's; raises if unreachable."""
    environment = {**os.environ, "DOCKER_HOST": host} if host else None
    # ssh:// through the system's ssh client (its config and agent), not paramiko.
    client = docker.from_env(timeout=300, environment=environment, use_ssh_client=bool(host and host.startswith("ssh://")))
    client.ping()
    return client


def unreachable_message(exc: BaseException, host: str | None = None) -> str:
    """One line saying no Docker engine answers, where, why, and what to do."""
    host = host or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return f"Docker engine unreachable at {host} ({reason}); start dockerd or run scripts/bootstrap.sh"


def container_name(run_id: str, instance_id: str) -> str:
    """A unique, valid container name: safe under xdist and across runs."""
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", instance_id)[:60].strip("-.") or "task"
    return f"ohbench-{run_id}-{slug}-{uuid.uuid4().hex[:8]}"


class DockerRuntime:
    """A started container. Commands run with bash under `timeout`; files move as tar."""

    def __init__(self, container: Container, workdir: str, attached: ShellChannel | None = None) -> None:
        """`attached`: the channel to the container's main process, when start() made one."""
        self.container = container
        self.workdir = workdir
        # Commands go through one shell kept open in the container (see channel.py).
        api = container.client.api if container.client is not None else None
        self.channel = ChannelHolder(api, container.id or "", attached)
        self.oom_kills = 0  # OOM kills already accounted to earlier commands
        self.slots: list[Any] = []  # engines.Slot places held on a limited engine until removal
        # Work a checker did on this fresh container before it was handed out (e.g. the history
        # strip, while the agent still ran), by the checker's key; the checker takes it.
        self.ahead: dict[str, Any] = {}

    @classmethod
    def start(
        cls,
        client: docker.DockerClient,
        image: str,
        *,
        run_id: str,
        instance_id: str,
        workdir: str,
        cpus: float = 1.0,
        memory: str | int = "2g",
        network: str = "none",
        environment: dict[str, str] | None = None,
        controller: str = "",
        cpuset_cpus: str | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
        wrapper: list[str] | None = None,
    ) -> "DockerRuntime":
        """Start a container whose main process, the command channel's shell, waits for commands.

        `cpuset_cpus` ("1", "0-1") pins it to those CPUs (timing runs: no migrations).
        `wrapper`: an argv put before the main command, which it must run in its place (the
        sealed network's relay: it listens first, then execs the shell).
        """
        # The main process is the command channel's shell (channel.py), attached to before
        # the start; with the channel off, an idle sleep.
        end_token = f"ohbench-channel-ended-{secrets.token_hex(8)}"
        use_channel = channel_enabled()
        main = main_command(end_token) if use_channel else ["sleep", "infinity"]
        container = client.containers.create(
            image,
            command=[*(wrapper or []), *main],
            name=container_name(run_id, instance_id),
            labels={RUN_LABEL: run_id, INSTANCE_LABEL: instance_id, CONTROLLER_LABEL: controller},
            init=True,  # reaps the zombies that killed commands leave behind
            stdin_open=use_channel,
            log_config=LogConfig(type=LogConfig.types.NONE),  # no copy of every command's output on the engine's disk
            network_mode=network,
            nano_cpus=int(cpus * 1e9),
            mem_limit=int(docker.utils.parse_bytes(memory)) if isinstance(memory, str) else memory,
            working_dir=workdir,
            environment=environment or {},
            cpuset_cpus=cpuset_cpus or None,
            volumes=volumes or {},  # e.g. the agent's read-only tree
        )
        attached = None
        try:
            # Refused by the engine: the channel is opened with exec on the first command instead.
            with contextlib.suppress(docker.errors.DockerException):
                attached = ShellChannel.attach(client.api, container.id or "", end_token) if use_channel else None
            container.start()
        except BaseException:
            if attached is not None:
                attached.close()
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)
            raise
        return cls(container, workdir, attached)

    @property
    def name(self) -> str:
        return self.container.name or ""

    def execute(
        self,
        command: str,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` with bash in the container; killed after `timeout` seconds."""
        channel = self.channel.get()
        if channel is not None:
            try:
                result = channel.run(command, timeout, cwd or self.workdir, env)
            except ChannelBroken:
                pass  # nothing was sent: exec below runs it
            else:
                return self._judged(result.exit_code, result.output, result.duration, timeout)
        return self.exec(command, timeout, cwd, env)

    def exec(
        self,
        command: str,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` with its own `docker exec` (the channel's fallback)."""
        # The limit is enforced inside the container: the SDK's exec has no timeout of its own.
        argv = under_timeout(["bash", "-c", command], timeout)
        started = time.monotonic()
        exit_code, output = self.container.exec_run(
            argv, workdir=cwd or self.workdir, environment=env or {}, demux=False
        )
        elapsed = time.monotonic() - started
        assert isinstance(output, bytes | None)  # not streamed
        text = (output or b"").decode("utf-8", errors="replace")
        return self._judged(-1 if exit_code is None else exit_code, text, elapsed, timeout)

    def _judged(self, code: int, text: str, elapsed: float, timeout: float | None) -> ExecResult:
        """The result with its cause of death: out of memory, or `timeout`'s kill."""
        oom_killed = code == KILLED and self._newly_oom_killed()
        # A KILL before the limit is not `timeout`'s (it kills only --kill-after the limit).
        timed_out = (
            timeout is not None
            and not oom_killed
            and code in TIMEOUT_EXIT_CODES
            and (code != KILLED or elapsed >= max(1, int(timeout)))
        )
        return ExecResult(code, text, timed_out, elapsed, oom_killed)

    def _newly_oom_killed(self) -> bool:
        """True when the kernel OOM-killed something in the container since the last check.

        Read from the container's memory cgroup; docker's State.OOMKilled as a fallback
        (the engine sets it for the container's main process, not always for an exec).
        """
        _, output = self.container.exec_run(["cat", *OOM_COUNTERS])
        assert isinstance(output, bytes | None)  # not streamed
        counts = [int(count) for count in _OOM_KILL.findall(output or b"")]
        if counts:
            killed, self.oom_kills = counts[0] > self.oom_kills, counts[0]
            return killed
        self.container.reload()
        return bool(self.container.attrs.get("State", {}).get("OOMKilled"))

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace an absolute `path` in the container (parents must exist)."""
        self.write_files({path: content}, mode)

    def write_files(self, files: dict[str, str | bytes], mode: int = 0o644) -> None:
        """Create or replace absolute paths in the container (parents must exist): one archive, one request."""
        targets = {PurePosixPath(path): content for path, content in files.items()}
        parents = {target.parent for target in targets}
        # One folder: names relative to it (as before); several: relative to / (the tar keeps the paths).
        root = next(iter(parents)) if len(parents) == 1 else PurePosixPath("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for target, content in targets.items():
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(str(target.relative_to(root)))
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                archive.addfile(info, io.BytesIO(data))
        self.container.put_archive(str(root), buffer.getvalue())

    def read_file(self, path: str) -> bytes:
        """Contents of an absolute `path` in the container."""
        try:
            stream, _ = self.container.get_archive(path)
        except docker.errors.NotFound:
            raise FileNotFoundError(path) from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            extracted = archive.extractfile(member) if member else None
            if extracted is None:
                raise FileNotFoundError(f"{path} is not a regular file")
            return extracted.read()

    def read_tree(self, path: str) -> dict[str, bytes]:
        """Every regular file below an absolute `path`, by relative name ({} if missing)."""
        try:
            stream, _ = self.container.get_archive(path)
        except docker.errors.NotFound:
            return {}
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    # Names start with the folder's own name: keep what is below it.
                    files[member.name.split("/", 1)[-1]] = handle.read()
        return files

    def write_tree(self, path: str, source: Path) -> None:
        """Copy the host file or folder `source` to the absolute `path` (created with parents)."""
        self.execute(f"mkdir -p {shlex.quote(path)}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            if source.is_dir():
                for child in sorted(source.iterdir()):
                    archive.add(child, arcname=child.name)
            else:
                archive.add(source, arcname=source.name)
        self.container.put_archive(path, buffer.getvalue())

    def remove(self) -> None:
        """Remove the container, whatever state it is in."""
        self.channel.close()
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            # 409 "removal already in progress": a request cut by pytest-timeout's signal left
            # a broken connection, and the client's retry of our DELETE met the first one.
            if exc.status_code != 409:
                raise
            self._wait_until_gone()

    def _wait_until_gone(self, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                self.container.reload()
            except docker.errors.NotFound:
                return
            time.sleep(0.2)
        raise TimeoutError(f"container {self.name} still exists {limit:g}s after its removal began")


def remove_run_containers(client: docker.DockerClient, run_id: str, controller: str | None = None) -> int:
    """Remove every container labeled with `run_id` (the session-finish sweep); returns count.

    With `controller`, only those this controller's session started: another live session
    given the same run id keeps its own (a dead one's go with remove_orphaned_containers).
    """
    labels = [f"{RUN_LABEL}={run_id}"] + ([f"{CONTROLLER_LABEL}={controller}"] if controller else [])
    removed = 0
    for container in client.containers.list(all=True, filters={"label": labels}, ignore_removed=True):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


def remove_orphaned_containers(client: docker.DockerClient) -> list[str]:
    """Remove containers of runs on this host whose controller process is gone (a SIGKILL).

    Only containers this harness labelled are looked at; a live controller's are kept.
    """
    host = socket.gethostname()
    removed = []
    # ignore_removed: another run may remove a listed container before the SDK inspects it.
    for container in client.containers.list(all=True, filters={"label": CONTROLLER_LABEL}, ignore_removed=True):
        owner_host, _, pid = (container.labels or {}).get(CONTROLLER_LABEL, "").rpartition(":")
        if owner_host != host or not pid.isdigit() or is_alive(int(pid)):
            continue
        try:
            container.remove(force=True)
            removed.append(container.name or container.id or "")
        except docker.errors.NotFound:
            pass
    return removed
