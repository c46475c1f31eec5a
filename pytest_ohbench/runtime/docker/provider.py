"""The Docker runtime: task images and containers on one engine per process (runtime/provider.py).

Every workspace is a fresh, labeled, resource-limited container (runtime.py) of the task's
image (images.py), started ahead of need and removed in the background by this process's
pool (containers.py), under the engine's container limit (engines.py). The controller
checks every engine before the first task, removes what killed runs left, and removes the
run's containers at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import docker
import docker.errors

from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.failures import ENGINE
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.docker.containers import ContainerManager
from pytest_ohbench.runtime.docker.engines import EngineSlots, engine_label
from pytest_ohbench.runtime.docker.images import image_problem, resolve_image
from pytest_ohbench.runtime.docker.runtime import (
    DockerRuntime,
    docker_client,
    remove_orphaned_containers,
    remove_run_containers,
    unreachable_message,
)
from pytest_ohbench.runtime.provider import (
    BuildFailed,
    ImageInfo,
    Mount,
    Network,
    Prepare,
    RuntimeProvider,
    RuntimeSettings,
    RuntimeUnavailable,
    Sealed,
    choose_cpuset,
)
from pytest_ohbench.runtime.sealed import relay_binary, relay_command, sealed_mounts


def volumes(mounts: list[Mount]) -> dict[str, dict[str, str]]:
    """Mounts as the docker SDK's `volumes` argument."""
    return {str(m.source): {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in mounts}


def start_container(
    client: docker.DockerClient, image: str, task: Task, suite: SuiteConfig, settings: RuntimeSettings, *,
    network: Network = None, cpuset: str | None = None, mounts: list[Mount] | None = None, name_suffix: str = "",
    relay: Path | None = None,
) -> DockerRuntime:
    """A fresh task container from `image` with the suite's limits (infra_error on failure).

    `cpuset` pins it to those CPUs instead of the suite's CPU quota (timing runs). A `Sealed`
    network is `--network none` plus the relay (`relay`: its binary on this host) as the main
    command's wrapper, with its binary and the gateway's socket folder mounted read-only.
    """
    mounts, wrapper = list(mounts or []), None
    if isinstance(network, Sealed):
        assert relay is not None, "a sealed network needs the relay binary"
        mounts += sealed_mounts(network, relay)
        wrapper = relay_command(network)
        network = "none"
    try:
        return DockerRuntime.start(
            client,
            image,
            run_id=settings.run_id,
            instance_id=task.instance_id + name_suffix,
            workdir=task.workdir or suite.container.workdir,
            cpus=0.0 if cpuset else suite.container.cpus,
            memory=suite.container.memory,
            network=network or suite.container.network,
            environment=suite.container.environment,
            controller=settings.controller,
            cpuset_cpus=cpuset,
            volumes=volumes(mounts),
            wrapper=wrapper,
        )
    except (docker.errors.DockerException, ValueError) as exc:
        cause = ENGINE if isinstance(exc, docker.errors.DockerException) else ""
        raise HarnessError(Outcome.INFRA_ERROR, f"cannot start a container from {image}: {exc}", cause) from None


def engine_pinning(client: docker.DockerClient, setting: str) -> dict[str, Any]:
    """What pinning the engine allows and which CPUs this process's timing runs use."""
    info = client.info()
    allows = bool(info.get("CPUSet", False))
    cpus = int(info.get("NCPU", 0) or 0)
    cpuset = choose_cpuset(setting, cpus, allows, os.environ.get("PYTEST_XDIST_WORKER"))
    return {"engine_cpus": cpus, "engine_allows_cpuset": allows, "cpuset": cpuset, "pinned": cpuset is not None}


def pinned_starter(
    client: docker.DockerClient, image: str, *, run_id: str, instance_id: str, workdir: str, memory: str, cpuset: str | None,
) -> Callable[[str], contextlib.AbstractContextManager[Runtime]]:
    """Fresh containers of `image`, one per timed state, removed on exit (benchmarks/perf_noise.py).

    Pinned to `cpuset` (then without a CPU quota: one pinned CPU is the limit), else one CPU
    of quota, as any task container.
    """

    @contextlib.contextmanager
    def start(state: str) -> Iterator[Runtime]:
        try:
            runtime = DockerRuntime.start(
                client, image, run_id=run_id, instance_id=f"{instance_id}-{state}", workdir=workdir,
                cpus=0.0 if cpuset else 1.0, memory=memory, network="none", cpuset_cpus=cpuset,
            )
        except (docker.errors.DockerException, ValueError) as exc:
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot start the {state} container from {image}: {exc}") from None
        try:
            yield runtime
        finally:
            runtime.remove()

    return start


class DockerProvider(RuntimeProvider):
    """Tasks in containers on this process's Docker engine."""

    name = "docker"

    def __init__(self, settings: RuntimeSettings) -> None:
        super().__init__(settings)
        self._client: docker.DockerClient | None = None
        self._manager: ContainerManager | None = None
        self._images: dict[tuple[str, str, str], ImageInfo] = {}

    # --- the session -------------------------------------------------------------------
    @classmethod
    def prepare_session(cls, settings: RuntimeSettings) -> list[str]:
        """Every engine answers (else RuntimeUnavailable naming it); containers of runs whose
        controller is gone are removed."""
        removed: list[str] = []
        for host in settings.engines or (None,):
            try:
                client = docker_client(host)
            except Exception as exc:  # the SDK raises several types for "no engine"
                option = f"--ohbench-docker-host {host}: " if host else ""
                raise RuntimeUnavailable(option + unreachable_message(exc, host)) from None
            try:
                removed += remove_orphaned_containers(client)
            finally:
                client.close()
        return [f"removed {len(removed)} containers of runs whose controller is gone"] if removed else []

    @classmethod
    def missing_images(cls, settings: RuntimeSettings, needs: Sequence[tuple[Task, SuiteConfig]]) -> list[str]:
        """Every engine is asked for every image the items need (each task once; images are
        per engine); an image missing on several engines is one line naming them."""
        engines = settings.engines or (None,)
        missing: dict[str, list[str]] = {}
        for host in engines:
            try:
                client = docker_client(host)
            except Exception:
                continue  # prepare_session has said which engine does not answer
            try:
                seen: set[tuple[str, str, str]] = set()
                for task, suite in needs:
                    key = (str(suite.root), task.source_file, task.instance_id)
                    if key in seen:
                        continue  # attempts and models of one task need one image
                    seen.add(key)
                    problem = image_problem(client, task, suite, settings.image_prefix, settings.image_tars)
                    if problem is not None:
                        missing.setdefault(problem, []).append(engine_label(host) if host else "")
            finally:
                client.close()
        many = len(engines) > 1
        return [problem + (f" (on {', '.join(on)})" if many else "") for problem, on in missing.items()]

    @classmethod
    def facts(cls, settings: RuntimeSettings) -> dict[str, Any]:
        """Each engine's version, API version, OS, architecture and kernel (what a container's
        syscalls meet), or why it could not be asked."""
        found: dict[str, Any] = {}
        for host in settings.engines or (None,):
            try:
                client = docker_client(host)
                try:
                    answer = client.version()
                finally:
                    client.close()
            except Exception as exc:  # the SDK raises several types for "no engine"
                found[engine_label(host)] = {"error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}
                continue
            found[engine_label(host)] = {
                "version": answer.get("Version"), "api_version": answer.get("ApiVersion"), "os": answer.get("Os"),
                "arch": answer.get("Arch"), "kernel": answer.get("KernelVersion"),
            }
        return found

    @classmethod
    def finish_session(cls, settings: RuntimeSettings) -> None:
        """Remove any container this session still has labeled with its run (crashes, Ctrl-C, killed workers)."""
        for host in settings.engines or (None,):
            try:
                client = docker_client(host)
            except Exception:
                continue  # no engine: nothing can be left over there
            try:
                remove_run_containers(client, settings.run_id, settings.controller)
            finally:
                client.close()

    # --- this process ------------------------------------------------------------------
    @property
    def client(self) -> docker.DockerClient:
        """A client of this process's engine, made on first use (infra_error when none answers)."""
        if self._client is None:
            try:
                self._client = docker_client(self.settings.engine)
            except Exception as exc:  # the SDK raises several types for "no engine"
                raise HarnessError(Outcome.INFRA_ERROR, unreachable_message(exc, self.settings.engine)) from None
        return self._client

    @property
    def manager(self) -> ContainerManager:
        """This process's container pool, with its engine's container limit."""
        if self._manager is None:
            limit = self.settings.max_containers
            self._manager = ContainerManager(EngineSlots(self.settings.engine, limit) if limit else None)
        return self._manager

    @property
    def label(self) -> str:
        return engine_label(self.settings.engine)

    def image(self, task: Task, suite: SuiteConfig) -> ImageInfo:
        key = (str(suite.root), task.source_file, task.instance_id)
        if key not in self._images:  # once per task and process: a check asks again
            self._images[key] = self._resolve(task, suite)
        return self._images[key]

    def _resolve(self, task: Task, suite: SuiteConfig) -> ImageInfo:
        try:
            resolved = resolve_image(
                self.client, task, suite, {"ohbench.run_id": self.settings.run_id},
                self.settings.image_prefix, self.settings.image_tars,
            )
        except docker.errors.DockerException as exc:
            raise BuildFailed(f"image for {task.instance_id}: {exc}", ENGINE) from None
        found = resolved.id
        if found is None:
            found = self.image_id(resolved.name)
        return ImageInfo(resolved.name, found, resolved.source)

    def image_id(self, image: str) -> str | None:
        try:
            return self.client.images.get(image).id
        except docker.errors.DockerException:
            return None

    def run_build(self, image: str, argv: list[str], mounts: list[Mount], env: dict[str, str]) -> None:
        try:
            self.client.containers.run(image, argv, remove=True, network_mode="none", volumes=volumes(mounts), environment=env)
        except docker.errors.ContainerError as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
            raise BuildFailed(last_line(stderr, str(exc))) from None
        except docker.errors.DockerException as exc:
            raise BuildFailed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def _check_starter(self, task: Task, suite: SuiteConfig, image: str | None, prepare: Prepare | None,
                       cpuset: str | None = None) -> Callable[[], DockerRuntime]:
        """Starts `task`'s check container: its image (resolved on the pool's thread when not given)."""

        def start() -> DockerRuntime:
            name = image or self.image(task, suite).name
            assert name is not None
            runtime = start_container(self.client, name, task, suite, self.settings, cpuset=cpuset)
            if prepare is not None and cpuset is None:
                prepare(runtime, task)
            return runtime

        return start

    def start_agent(
        self, key: str, task: Task, suite: SuiteConfig, image: str | None, *, network: Network = None,
        mounts: list[Mount] | None = None, check_ahead: bool = False, prepare: Prepare | None = None,
    ) -> Runtime:
        assert image is not None, "the Docker runtime runs tasks in their image"
        relay = None
        if isinstance(network, Sealed):
            try:
                relay = relay_binary()  # built once per machine, before any slot is taken
            except BuildFailed as exc:
                raise HarnessError(Outcome.INFRA_ERROR, f"sealed network: {exc}") from None
        later = self._check_starter(task, suite, image, prepare) if check_ahead else None
        return self.manager.start(key, lambda: start_container(
            self.client, image, task, suite, self.settings, network=network, mounts=mounts, relay=relay,
        ), later)

    def check_runtime(self, key: str, task: Task, suite: SuiteConfig, *, cpuset: str | None = None,
                      prepare: Prepare | None = None) -> Runtime:
        starter = self._check_starter(task, suite, self.image(task, suite).name, prepare, cpuset)
        # A pinned timing container is never the one started ahead (unpinned).
        return self.manager.started(starter) if cpuset else self.manager.check_container(key, starter)

    def start_ahead(self, key: str, task: Task, suite: SuiteConfig, prepare: Prepare | None = None) -> bool:
        return self.manager.start_ahead(key, self._check_starter(task, suite, None, prepare))

    def discard(self, key: str) -> None:
        if self._manager is not None:
            self._manager.discard(key)

    def release(self, runtime: Runtime) -> None:
        assert isinstance(runtime, DockerRuntime)
        self.manager.remove_later(runtime)  # drained before the session ends

    def pinning(self, setting: str) -> dict[str, Any]:
        try:
            return engine_pinning(self.client, setting)
        except docker.errors.DockerException as exc:
            raise HarnessError(Outcome.INFRA_ERROR, f"cannot ask the Docker engine about its CPUs: {exc}") from None

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
        if self._client is not None:
            self._client.close()
            self._client = None
