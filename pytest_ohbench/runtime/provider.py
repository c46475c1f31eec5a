"""The runtime interface: where tasks run, and the whole life of that place.

A runtime (one per pytest process, chosen with --ohbench-runtime) resolves a task's image,
starts its workspaces (the agent's; a fresh one at the base state for each check, started
ahead of need where it can), removes them, runs the builds of an agent's read-only trees,
says which CPUs timing runs may be pinned to, and cleans up what a run leaves. Fixtures,
agents and checkers see this interface and the `Runtime` workspaces it hands out, never an
engine's client: a new runtime (a remote engine, Kubernetes) is one module and one entry
point in the group `pytest_ohbench.runtimes`, as Inspect's sandbox environments are.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_ohbench.core.machine import is_alive
from pytest_ohbench.runtime.base import Runtime

if TYPE_CHECKING:
    from pytest_ohbench.core.suite import SuiteConfig
    from pytest_ohbench.core.task import Task

ENTRY_POINT_GROUP = "pytest_ohbench.runtimes"
# Work a checker does on a fresh check workspace before it is handed out (off the critical path).
Prepare = Callable[[Runtime, "Task"], None]


class RuntimeUnavailable(Exception):
    """The runtime cannot be used at all (no engine answers): a usage error before any task."""


class BuildFailed(Exception):
    """An image or an agent tree could not be made (the message is one line; `failure_class`:
    its infrastructure cause, core/failures.py, "" for none)."""

    def __init__(self, message: str, failure_class: str = "") -> None:
        super().__init__(message)
        self.failure_class = failure_class


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host folder seen inside a workspace (an agent's tree, read-only)."""

    source: Path
    target: str
    read_only: bool = True


@dataclasses.dataclass(frozen=True)
class Sealed:
    """An agent workspace's network that reaches one host service and nothing else (runtime/sealed.py).

    Inside, loopback only; on 127.0.0.1:`port` a relay to the host's unix socket `socket`
    (the run's LLM gateway, which listens on the same port number on the host's 127.0.0.1,
    so an agent's URL is the same either way).
    """

    socket: Path
    port: int


# A workspace's network: "none", "host" (the host's own), a Sealed one, or None for the suite's.
Network = str | Sealed | None


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """What a runtime needs to know of the run and of this process."""

    run_id: str
    controller: str  # "<host>:<pid>" of the run's controller, on everything the run starts
    engine: str | None = None  # this process's engine (an xdist worker is bound to one); None: the default
    engines: tuple[str, ...] = ()  # every engine of the run (checked and swept by the controller)
    max_containers: int | None = None  # per engine, all workers and runs of the host
    image_prefix: str | None = None  # Multi-SWE-bench's image namespace instead of mswebench
    image_tars: Path | None = None  # a folder of image tars, loaded when a task needs one


@dataclasses.dataclass
class ImageInfo:
    """The image a task runs in: its name, the engine's id of it, and how it was got (None without images)."""

    name: str | None = None
    id: str | None = None
    source: str | None = None  # local, loaded, pulled, build, cached


class RuntimeProvider:
    """One runtime for one pytest process. Subclass it, set `name`, override what it has."""

    name: ClassVar[str]
    isolated: ClassVar[bool] = True  # False: tasks run on the host (no image, no limits)

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings

    # --- the session, on the controller ----------------------------------------------------
    @classmethod
    def prepare_session(cls, settings: RuntimeSettings) -> list[str]:
        """Before any task: the runtime can be used (else RuntimeUnavailable, one line), and what
        killed runs left is removed; returns lines for the user (what was removed)."""
        return []

    @classmethod
    def missing_images(cls, settings: RuntimeSettings, needs: "Sequence[tuple[Task, SuiteConfig]]") -> list[str]:
        """Before any task: one line for each image of `needs` that cannot be had (not here, in
        no tar, not pullable, not buildable), on any of the run's engines; [] when all can."""
        return []

    @classmethod
    def facts(cls, settings: RuntimeSettings) -> dict[str, Any]:
        """What run.json records of where tasks ran (engine versions, kernel), by engine."""
        return {}

    @classmethod
    def finish_session(cls, settings: RuntimeSettings) -> None:
        """After the last task: remove whatever of the run is still there (crashes, killed workers)."""

    # --- this process ----------------------------------------------------------------------
    @property
    def label(self) -> str:
        """Where items run, for their records ("" when there is nothing to name)."""
        return ""

    def image(self, task: "Task", suite: "SuiteConfig") -> ImageInfo:
        """The task's image: found, loaded, pulled or built (BuildFailed when it cannot be had)."""
        return ImageInfo()

    def image_id(self, image: str) -> str | None:
        """The id of an image present here, or None."""
        return None

    def run_build(self, image: str, argv: list[str], mounts: list[Mount], env: dict[str, str]) -> None:
        """Run one build step (an agent tree's) in a throwaway workspace of `image`, without
        network; BuildFailed with the step's last line when it fails."""
        raise BuildFailed(f"the {self.name} runtime cannot build agent trees (use --ohbench-runtime docker)")

    def start_agent(
        self, key: str, task: "Task", suite: "SuiteConfig", image: str | None, *, network: Network = None,
        mounts: list[Mount] | None = None, check_ahead: bool = False, prepare: Prepare | None = None,
    ) -> Runtime:
        """Item `key`'s agent workspace from `image`; with `check_ahead`, its check workspace too,
        in the background while the agent works (`prepare` runs on it before it is handed out).

        `network`: None for the suite's (container.network), "none", "host", or a `Sealed` one
        (only the gateway); a runtime that cannot isolate (`isolated` False) ignores it."""
        raise NotImplementedError

    def check_runtime(self, key: str, task: "Task", suite: "SuiteConfig", *, cpuset: str | None = None,
                      prepare: Prepare | None = None) -> Runtime:
        """A fresh workspace of the task at its base state for item `key`'s check: the one started
        ahead, or a new one now. `cpuset` pins it (timing runs; never the one started ahead)."""
        raise NotImplementedError

    def start_ahead(self, key: str, task: "Task", suite: "SuiteConfig", prepare: Prepare | None = None) -> bool:
        """Start item `key`'s check workspace now, in the background, if there is room; False if not."""
        return False

    def discard(self, key: str) -> None:
        """Item `key` will not use the check workspace started for it."""

    def release(self, runtime: Runtime) -> None:
        """`runtime` is done with: remove it (in the background where the runtime can)."""
        runtime.remove()

    def pinning(self, setting: str) -> dict[str, Any]:
        """Which CPUs timing runs may be pinned to under `setting` (auto, none, or a cpuset)."""
        return {"engine_cpus": 0, "engine_allows_cpuset": False, "cpuset": None, "pinned": False}

    def close(self) -> None:
        """Before the process ends: every workspace it started is gone."""


def controller_id() -> str:
    """`<host>:<pid>` of this process: what a run's workspaces carry, so a later run can tell
    that the controller that started them is gone."""
    return f"{socket.gethostname()}:{os.getpid()}"




def controller_alive(owner: str) -> bool:
    """True unless `owner` (<host>:<pid>) names a process on this host that is gone."""
    host, _, pid = owner.strip().rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's session: not ours to judge
    return is_alive(int(pid))


def engine_for_worker(engines: tuple[str, ...], worker_id: str) -> str | None:
    """The engine of xdist worker `worker_id` ("gw3"): engines spread round-robin (None: the default)."""
    if not engines:
        return None
    number = int(worker_id[2:]) if worker_id.startswith("gw") and worker_id[2:].isdigit() else 0
    return engines[number % len(engines)]


def choose_cpuset(setting: str, engine_cpus: int, engine_allows: bool, worker: str | None = None) -> str | None:
    """The CPUs timing runs share: `auto` picks one CPU per xdist worker, from the last one
    down (gw0 -> the last CPU); "" or "none" pins nothing."""
    if not engine_allows or setting.strip().lower() in ("", "none", "off"):
        return None
    if setting.strip().lower() != "auto":
        return setting.strip()
    if engine_cpus < 1:
        return None
    index = int(worker[2:]) if worker and worker.startswith("gw") and worker[2:].isdigit() else 0
    return str(engine_cpus - 1 - index % engine_cpus)


@functools.cache
def runtimes() -> dict[str, type[RuntimeProvider]]:
    """The registered runtimes by name (imported now)."""
    return {point.name: point.load() for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name)}


def runtime_named(name: str) -> type[RuntimeProvider]:
    """The runtime called `name`; LookupError naming the known ones otherwise."""
    found = runtimes()
    if name not in found:
        raise LookupError(f"unknown runtime {name!r} (known: {', '.join(found)})")
    return found[name]
