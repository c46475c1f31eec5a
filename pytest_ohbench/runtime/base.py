"""The runtime protocol: where an agent's commands and the checker's tests run."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Protocol


@dataclasses.dataclass
class ExecResult:
    """Result of one command: exit code, combined stdout+stderr, whether it timed out or was OOM-killed."""

    exit_code: int
    output: str
    timed_out: bool = False
    duration: float = 0.0
    oom_killed: bool = False  # the kernel killed it for the container's memory limit (exit 137, not a timeout)


class Runtime(Protocol):
    """A place to run commands and move files: a task container, or the host."""

    workdir: str

    def execute(
        self,
        command: str,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` with bash; past `timeout` seconds it is killed and `timed_out` set."""
        ...

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace the file at the absolute `path`."""
        ...

    def write_files(self, files: dict[str, str | bytes]) -> None:
        """Create or replace several files (absolute paths, parents exist) in one transfer."""
        ...

    def read_file(self, path: str) -> bytes:
        """Contents of the file at the absolute `path` (FileNotFoundError if missing)."""
        ...

    def read_tree(self, path: str) -> dict[str, bytes]:
        """Every regular file below the absolute `path`, by relative name ({} if missing)."""
        ...

    def write_tree(self, path: str, source: Path) -> None:
        """Copy the host file or folder `source` to the absolute `path` (created with parents)."""
        ...

    def remove(self) -> None:
        """Stop and delete what the runtime holds (container, temporary folder)."""
        ...

    # Optional, for a runtime whose commands do not see the sandbox's paths as they are (the
    # local runtime's folder stands for `/`): `path(path) -> str`, where an absolute sandbox
    # path is for its commands, and `container_workdir`, the task's own workdir. See host_path.


# coreutils `timeout` exits 124 when it stopped the command, 137 when it had to KILL it.
TIMEOUT_EXIT_CODES = (124, 137)


def under_timeout(argv: list[str], timeout: float | None) -> list[str]:
    """`argv` run under coreutils `timeout` (KILL 5 s after TERM), or as it is without a limit."""
    if timeout is None:
        return argv
    return ["timeout", "--kill-after=5", str(max(1, int(timeout))), *argv]


def host_path(runtime: object, path: str) -> str:
    """Where the sandbox path `path` is for `runtime`'s commands: itself, unless the runtime maps
    paths (a host folder standing for `/`: it has `path()`)."""
    mapped = getattr(runtime, "path", None)
    return mapped(path) if callable(mapped) else path


def host_text(runtime: object, text: str) -> str:
    """`text` (a prompt) with the task's workdir, where it names a path, as `runtime`'s commands
    see it: an agent told `/GitTaskBench/output/X` on the host would write outside its folder (or
    find nothing there). Unchanged for runtimes that do not map paths, and for a workdir of `/`."""
    workdir = getattr(runtime, "container_workdir", None)
    if not callable(getattr(runtime, "path", None)) or not workdir or workdir == "/":
        return text
    # Whole path components only: `/GitTaskBench2` and `x/GitTaskBench` are other paths.
    pattern = re.compile(r"(?<![\w./~-])" + re.escape(workdir) + r"(?![\w.-]*[\w-])")
    return pattern.sub(lambda _: str(getattr(runtime, "workdir", workdir)), text)


def oom_kills(runtime: Runtime | None) -> int:
    """How many of the workspace's commands the kernel killed for its memory limit so far (0
    where the runtime cannot tell, e.g. the host)."""
    return int(getattr(runtime, "oom_kills", 0) or 0)
