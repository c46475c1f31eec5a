"""Per-session plugin state, kept in the config stash (never in module globals)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_ohbench.llm import LLMConfig
from pytest_ohbench.report.run_folder import RunFolder
from pytest_ohbench.runtime.containers import ContainerManager
from pytest_ohbench.settings import Settings


@dataclasses.dataclass
class RunState:
    """What every process of a run shares: the settings, the run id and folder, the models."""

    settings: Settings
    run_id: str
    folder: RunFolder
    is_controller: bool  # False on xdist workers: only the controller writes results
    rootpath: Path
    controller: str  # "<host>:<pid>" of the run's controller, on every container it starts
    llms: dict[str, LLMConfig] = dataclasses.field(default_factory=dict)  # --llm-config sections, in order
    resumed: dict[str, str] = dataclasses.field(default_factory=dict)  # nodeid -> judged outcome kept
    tasks_collected: int = 0
    engine_checked: bool = False  # the Docker engine was checked (and orphans swept) this run
    docker_host: str | None = None  # this process's engine (an xdist worker is bound to one); None: DOCKER_HOST
    containers: ContainerManager | None = None  # this process's containers (made on first use)

    @property
    def agent(self) -> str | None:
        """The --agent name (None when none was chosen)."""
        return self.settings.agent_name

    def secrets(self) -> list[str]:
        """Every api_key of the run: scrubbed from whatever the run writes."""
        return [secret for llm in self.llms.values() for secret in llm.secrets()]

    def relative(self, path: Path) -> str:
        """`path` relative to the rootdir when below it (short paths in verdicts)."""
        try:
            return str(path.relative_to(self.rootpath))
        except ValueError:
            return str(path)


STATE_KEY = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    """The session's RunState (set up in pytest_configure)."""
    return config.stash[STATE_KEY]
