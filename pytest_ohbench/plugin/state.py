"""Per-session plugin state, kept in the config stash (never in module globals)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.plugin.settings import Settings
from pytest_ohbench.report.run_folder import RunFolder
from pytest_ohbench.runtime.provider import RuntimeProvider, RuntimeSettings, runtime_named


@dataclasses.dataclass
class RunState:
    """What every process of a run shares: the settings, the run id and folder, the models."""

    settings: Settings
    run_id: str
    folder: RunFolder
    is_controller: bool  # False on xdist workers: only the controller writes results
    remote: bool = dataclasses.field(default=False, kw_only=True)  # a worker on another host (plugin/remote.py)
    rootpath: Path
    invocation_dir: Path  # where the user ran pytest: the paths printed for them are relative to it
    controller: str  # "<host>:<pid>" of the run's controller, on every container it starts
    llms: dict[str, LLMConfig] = dataclasses.field(default_factory=dict)  # --llm-config sections, in order
    resumed: dict[str, str] = dataclasses.field(default_factory=dict)  # nodeid -> judged outcome kept
    tasks_collected: int = 0
    engine_checked: bool = False  # the runtime was checked (and orphans swept) this run
    docker_host: str | None = None  # this process's engine (an xdist worker is bound to one); None: DOCKER_HOST
    runtime: RuntimeProvider | None = None  # this process's runtime (made on first use)

    def runtime_settings(self) -> RuntimeSettings:
        """What the runtime needs of the run and of this process."""
        settings = self.settings
        return RuntimeSettings(
            run_id=self.run_id, controller=self.controller, engine=self.docker_host, engines=settings.docker_hosts,
            max_containers=settings.max_containers, image_prefix=settings.image_prefix, image_tars=settings.image_tars,
        )

    def runtime_provider(self) -> RuntimeProvider:
        """This process's runtime (--ohbench-runtime), made on first use."""
        if self.runtime is None:
            self.runtime = runtime_named(self.settings.runtime)(self.runtime_settings())
        return self.runtime

    @property
    def agent(self) -> str | None:
        """The --agent name (None when none was chosen)."""
        return self.settings.agent_name

    def secrets(self) -> list[str]:
        """Every api_key of the run: scrubbed from whatever the run writes."""
        return [secret for llm in self.llms.values() for secret in llm.secrets()]

    def relative(self, path: Path) -> str:
        """`path` relative to the rootdir when below it: how records store paths (data, not output)."""
        try:
            return str(path.relative_to(self.rootpath))
        except ValueError:
            return str(path)

    def shown(self, path: Path | str) -> str:
        """`path` as printed for the user: relative to the folder they ran pytest in when below it,
        else absolute, so it opens from their shell. A relative `path` is a record's (rootdir's)."""
        full = Path(os.path.normpath(self.rootpath / path))  # an absolute `path` stays as it is
        try:
            return str(full.relative_to(self.invocation_dir)) or "."
        except ValueError:
            return str(full)

    def shown_text(self, text: str) -> str:
        """`text` with the paths below the invocation dir relative to it (see shown_text())."""
        return shown_text(text, self.invocation_dir)


def shown_text(text: str, invocation_dir: Path) -> str:
    """A message (a loader's error, a harness or usage error) with the absolute paths below the
    folder the user ran pytest in made relative to it; other paths stay absolute."""
    prefix = str(invocation_dir).rstrip("/") + "/"
    if prefix == "/":
        return text  # run from /: absolute paths are already what the user would type
    return re.sub(r"(?<![\w./~-])" + re.escape(prefix) + r"(?=\S)", "", text)


STATE_KEY = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    """The session's RunState (set up in pytest_configure)."""
    return config.stash[STATE_KEY]
