"""Agents whose program comes in on read-only mounts (agent_tree.py): the task image is used as it is."""

from __future__ import annotations

from typing import ClassVar

from pytest_ohbench.agents.agent_tree import TreeError
from pytest_ohbench.agents.base import AgentSettings, BaseAgent
from pytest_ohbench.agents.openhands.source import SourceError
from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.runtime.provider import Mount, RuntimeProvider


class MountedAgent(BaseAgent):
    """An agent whose tree(s) `tree_mounts` builds on first use and the task's workspace mounts."""

    mounts_trees: ClassVar[bool] = True

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self._mounts: list[Mount] | None = None  # set by prepare

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        """The agent's read-only tree(s) on this machine, built on `runtime` the first time."""
        raise NotImplementedError

    def prepare(self, runtime: RuntimeProvider, image: str | None) -> str | None:
        """The task image as it is: the agent comes in on a read-only mount."""
        try:
            self._mounts = self.tree_mounts(runtime)
        except (TreeError, SourceError) as exc:
            raise HarnessError(Outcome.BUILD_ERROR, str(exc)) from None
        return image

    def mounts(self) -> list[Mount]:
        assert self._mounts is not None, "prepare comes first"
        return self._mounts
