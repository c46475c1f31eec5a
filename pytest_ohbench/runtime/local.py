"""Local runtime: a temporary folder on the host stands for the container, commands are host subprocesses.

For users without Docker (`--ohbench-runtime local`). There is no isolation: the agent's
commands run as the user running pytest, with the host's tools, and can read anything that
user can; nor is the network sealed: an agent reaches whatever the host reaches, not only
the run's LLM gateway. What the harness keeps is the order: the check files reach the folder only after
the agent has finished, as in a container.

The folder `root` stands for the container's `/`: an absolute path the harness names
(`/ohbench/check`, `/tmp/ohbench_prompt.md`) is mapped below it by `path()`, and every
command sees it as `$OHBENCH_ROOT`, so a command written for both runtimes says
`"${OHBENCH_ROOT:-}/ohbench/solution/solve.sh"`. The workspace is `root` + the task's workdir,
and what the agent reads names it there: `host_text()` turns the task's workdir in a prompt
(`/GitTaskBench/code_base/X`) into the host folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.kinds import kind_named, registered
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.runtime.base import ExecResult, Runtime
from pytest_ohbench.runtime.provider import Mount, Network, Prepare, RuntimeProvider

if TYPE_CHECKING:
    from pytest_ohbench.core.suite import SuiteConfig
    from pytest_ohbench.core.task import Task

ROOT_ENV = "OHBENCH_ROOT"
# Seconds between SIGTERM and SIGKILL for a command past its timeout (as `timeout --kill-after=5`).
KILL_AFTER = 5.0
TIMEOUT_EXIT_CODE = 124
HOST_ONLY_ENV = ("BASH_ENV", "ENV")


class LocalRuntime:
    """A task's folder on the host; commands run with bash in it, killed as a process group on timeout."""

    def __init__(self, root: Path, workdir: str) -> None:
        self.root = root
        self.container_workdir = os.path.normpath("/" + workdir.lstrip("/"))  # the task's own, e.g. /GitTaskBench
        # The workspace, as a host path: agents that print or template it get the real place.
        self.workdir = self._below_root(workdir)
        Path(self.workdir).mkdir(parents=True, exist_ok=True)

    @classmethod
    def start(cls, *, run_id: str, instance_id: str, workdir: str, base: Path | None = None) -> "LocalRuntime":
        """A fresh folder for one task (under `base`, default the system temp folder)."""
        slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", instance_id)[:60].strip("-.") or "task"
        root = Path(tempfile.mkdtemp(prefix=f"ohbench-{run_id}-{slug}-", dir=base))
        return cls(root, workdir)

    @classmethod
    def on_host(cls, folder: str | Path) -> "LocalRuntime":
        """Commands in the host folder `folder`, paths taken as they are (root `/`): for tools
        that time a checkout without a container (perf_record, the noise benchmark)."""
        return cls(Path("/"), str(folder))

    @property
    def name(self) -> str:
        return str(self.root)

    def path(self, path: str) -> str:
        """The host path standing for `path`: relative ones are in the workspace, absolute ones below root."""
        if not path.startswith("/"):
            return os.path.join(self.workdir, path)
        if path == str(self.root) or path.startswith(str(self.root) + "/"):
            return path  # already a host path of this runtime (e.g. the workspace)
        return self._below_root(path)

    def _below_root(self, path: str) -> str:
        """`root` joined with the absolute `path`, never above root (`/../x` is `root/x`)."""
        relative = os.path.normpath("/" + path.lstrip("/")).lstrip("/")
        return os.path.join(str(self.root), relative) if relative not in ("", ".") else str(self.root)

    def execute(
        self,
        command: str,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` with bash on the host; past `timeout` its whole process group is killed."""
        # A container's shell start-up file (mini's BASH_ENV=/root/.bashrc) means the user's own
        # on the host, sourced into every command and every shell it starts: never pass one on.
        given = {k: v for k, v in (env or {}).items() if k not in HOST_ONLY_ENV}
        environment = {**os.environ, **given, ROOT_ENV: str(self.root)}
        started = time.monotonic()
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.path(cwd) if cwd else self.workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills the children too
        )
        timed_out = False
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            output = self._kill(process)
        text = output.decode("utf-8", errors="replace")
        code = TIMEOUT_EXIT_CODE if timed_out else process.returncode
        return ExecResult(code, text, timed_out, time.monotonic() - started)

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> bytes:
        """SIGTERM the command's process group, SIGKILL it if still there; the output so far."""
        for sig, grace in ((signal.SIGTERM, KILL_AFTER), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                output, _ = process.communicate(timeout=grace)
                return output
            except subprocess.TimeoutExpired:
                continue
        return b""

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace the file standing for `path` (parents are created)."""
        target = Path(self.path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(mode)

    def write_files(self, files: dict[str, str | bytes]) -> None:
        """Create or replace the files standing for the paths of `files`."""
        for path, content in files.items():
            self.write_file(path, content)

    def read_file(self, path: str) -> bytes:
        """Contents of the file standing for `path`."""
        target = Path(self.path(path))
        if not target.is_file():
            raise FileNotFoundError(path)
        return target.read_bytes()

    def read_tree(self, path: str) -> dict[str, bytes]:
        """Every regular file below `path`, by relative name ({} if missing)."""
        top = Path(self.path(path))
        if top.is_file():
            return {top.name: top.read_bytes()}
        return {
            str(file.relative_to(top)): file.read_bytes()
            for file in sorted(top.rglob("*"))
            if file.is_file() and not file.is_symlink()
        }

    def write_tree(self, path: str, source: Path) -> None:
        """Copy the host file or folder `source` to `path`, as the Docker runtime does.

        A folder's contents land in `path`; a file lands in `path` as `path/<its name>`.
        """
        target = Path(self.path(path))
        target.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
        else:
            shutil.copy2(source, target / source.name)

    def remove(self) -> None:
        """Delete the task's folder."""
        shutil.rmtree(self.root, ignore_errors=True)


def start_local(task: "Task", suite: "SuiteConfig", run_id: str) -> LocalRuntime:
    """A fresh host folder for `task` (infra_error for a kind whose tasks need their image:
    only kinds whose workspace is made of input files run here, core/kinds.py `host_workspace`)."""
    if not kind_named(task.kind).host_workspace:
        local = [k.name for k in registered().values() if k.host_workspace]
        raise HarnessError(
            Outcome.INFRA_ERROR,
            f"{task.location}: a {task.kind} task needs its image: the local runtime runs "
            f"{' and '.join(local)} tasks only (use --ohbench-runtime docker)",
        )
    return LocalRuntime.start(run_id=run_id, instance_id=task.instance_id, workdir=task.workdir or suite.container.workdir)


class LocalProvider(RuntimeProvider):
    """Tasks in temporary host folders (`--ohbench-runtime local`): no images, no isolation."""

    name = "local"
    isolated = False

    def start_agent(
        self, key: str, task: "Task", suite: "SuiteConfig", image: str | None, *, network: Network = None,
        mounts: list[Mount] | None = None, check_ahead: bool = False, prepare: Prepare | None = None,
    ) -> Runtime:
        # No network of its own to seal or open: the agent is a host process with the host's network.
        return start_local(task, suite, self.settings.run_id)

    def check_runtime(self, key: str, task: "Task", suite: "SuiteConfig", *, cpuset: str | None = None,
                      prepare: Prepare | None = None) -> Runtime:
        return start_local(task, suite, self.settings.run_id)
